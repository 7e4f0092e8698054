"""Each database's literal and comment rules, and which one a span's ``db.system`` names.

Written from the dialects' own documentation: PostgreSQL "Lexical Structure", MySQL
"String Literals" and "Comments", SQLite "SQL Language Expressions" and "SQLite
Keywords", Oracle "Literals". Where a rule depends on server settings, the default
is read (PostgreSQL's standard_conforming_strings on; MySQL with backslash escapes,
and double quotes read as strings, which is also the safe side of ANSI_QUOTES).
Quoted forms are written unrolled (``'[^']*(?:''[^']*)*'``): the regex engine runs
them far faster than a repeated alternation.
"""

from pulse_agent.sql.lexer import (
    BLOCK_COMMENT,
    BOOLEAN,
    LINE_COMMENT,
    NUMBER,
    UUID,
    WHITESPACE,
    Dialect,
    identifier,
    operators,
)

# Quoted text where a doubled quote stands for one.
_SINGLE_QUOTED = r"'[^']*(?:''[^']*)*'"
_DOUBLE_QUOTED = r'"[^"]*(?:""[^"]*)*"'
_BACKQUOTED = r"`[^`]*(?:``[^`]*)*`"
# ... where a backslash also escapes the character after it.
_SINGLE_ESCAPED = r"'[^'\\]*(?:(?:\\[\s\S]|'')[^'\\]*)*'"
_DOUBLE_ESCAPED = r'"[^"\\]*(?:(?:\\[\s\S]|"")[^"\\]*)*"'
# A dot, a dash or a slash is an operator unless it starts a number or a comment.
_DOT = r"\.(?!\d)"
_DASH = r"-(?!-)"
_SLASH = r"/(?!\*)"
_DOLLAR_QUOTED = r"\$(?P<tag>(?:[^\W\d]\w*)?)\$[\s\S]*?\$(?P=tag)\$"
_DOLLAR_OPENING = r"\$(?:[^\W\d]\w*)?\$"
# Oracle's q'…' takes its delimiter from the character after the quote; the four
# brackets close with their partner.
_ORACLE_Q = (
    r"[Nn]?[Qq]'(?:\[[\s\S]*?\]|\{[\s\S]*?\}|<[\s\S]*?>|\([\s\S]*?\)"
    r"|(?P<delimiter>[^\s\[{<(])[\s\S]*?(?P=delimiter))'"
)

POSTGRES = Dialect(
    "postgres",
    kept=[
        WHITESPACE,
        _DOUBLE_QUOTED,
        identifier("$", prefixes=r"[Uu]&['\"]"),
        operators("'\"$.-/"),
        r"[Uu]&" + _DOUBLE_QUOTED,
        r"\$\d+",
        _DOT,
        _DASH,
        _SLASH,
    ],
    literals=[
        UUID,
        NUMBER,
        BOOLEAN,
        # E'…' reads backslash escapes, and so do its continuation lines.
        r"[Ee]%s(?:[ \t\f\r]*\n\s*%s)*" % (_SINGLE_ESCAPED, _SINGLE_ESCAPED),
        # Standard-conforming strings: a backslash is an ordinary character.
        r"(?:[NnBbXx]|[Uu]&)?" + _SINGLE_QUOTED,
        _DOLLAR_QUOTED,
    ],
    comments=[LINE_COMMENT],
    unterminated=[r"(?:[EeNnBbXx]|[Uu]&)?'", r'(?:[Uu]&)?"', _DOLLAR_OPENING],
    nested_comments=True,
)

_MYSQL_PREFIX = r"(?:[NnXxBb]|_[A-Za-z0-9]+)?"  # national, hex, bit, character set introducer
# "--" starts a comment only when followed by whitespace or a control character.
_MYSQL_DASHES = r"--(?![^\s\x00-\x1f])"
MYSQL = Dialect(
    "mysql",
    kept=[
        WHITESPACE,
        _BACKQUOTED,
        identifier("$"),
        operators("'\"`.-/#"),
        _DOT,
        r"-(?!%s)" % _MYSQL_DASHES[1:],
        _SLASH,
    ],
    literals=[UUID, NUMBER, BOOLEAN, "%s(?:%s|%s)" % (_MYSQL_PREFIX, _SINGLE_ESCAPED, _DOUBLE_ESCAPED)],
    comments=[r"#[^\n]*", _MYSQL_DASHES + r"[^\n]*", BLOCK_COMMENT],
    unterminated=[_MYSQL_PREFIX + r"['\"]", "`", r"/\*"],
)

SQLITE = Dialect(
    "sqlite",
    kept=[
        WHITESPACE,
        _DOUBLE_QUOTED,
        identifier("$"),
        operators("'\"`[.-/?:@$"),
        _BACKQUOTED,
        r"\[[^\]]*\]",
        r"\?\d*",
        r"[:@$][\w$]*",
        _DOT,
        _DASH,
        _SLASH,
    ],
    literals=[UUID, NUMBER, BOOLEAN, r"[Xx]?" + _SINGLE_QUOTED],
    comments=[LINE_COMMENT, BLOCK_COMMENT],
    unterminated=[r"[Xx]?'", '"', "`", r"\[", r"/\*"],
)

ORACLE = Dialect(
    "oracle",
    kept=[
        WHITESPACE,
        r'"[^"]*"',
        identifier("$#"),
        operators("'\".-/:"),
        r":\w*",
        _DOT,
        _DASH,
        _SLASH,
    ],
    literals=[UUID, NUMBER, BOOLEAN, _ORACLE_Q, r"[Nn]?" + _SINGLE_QUOTED],
    comments=[LINE_COMMENT, BLOCK_COMMENT],
    unterminated=[r"(?:[Nn]?[Qq]|[Nn])?'", '"', r"/\*"],
)

# For a database we have no rules for: every form any of the others reads as a
# literal or a comment is one here, double quotes included, and a backslash inside
# a string makes the statement unreadable (dialects disagree on what it escapes).
_ANY_PREFIX = r"(?:[EeNnXxBb]|[Uu]&|_[A-Za-z0-9]+)?"
STRICT = Dialect(
    "strict",
    kept=[
        WHITESPACE,
        _BACKQUOTED,
        identifier("$", prefixes=r"[Uu]&'"),
        operators("'\"`$.-/#:"),
        r"\$\d+",
        r":\w*",
        _DOT,
        _DASH,
        _SLASH,
    ],
    literals=[
        UUID,
        NUMBER,
        BOOLEAN,
        _ORACLE_Q,
        _DOLLAR_QUOTED,
        _ANY_PREFIX + r"""(?:'[^'\\]*(?:''[^'\\]*)*'|"[^"\\]*(?:""[^"\\]*)*")""",
    ],
    comments=[LINE_COMMENT, r"#[^\n]*"],
    unterminated=[r"(?:[EeNnXxBb]|[Uu]&|_[A-Za-z0-9]+|[Nn]?[Qq])?['\"]", "`", _DOLLAR_OPENING],
    nested_comments=True,
)

# Keyed by the ``db.system`` each database instrumentation puts on its spans (Django's
# ORM passes its backend's vendor name, which uses the same words).
_BY_SYSTEM = {"postgresql": POSTGRES, "mysql": MYSQL, "sqlite": SQLITE, "oracle": ORACLE}


def dialect_for(system):
    """The rules for a span's ``db.system``; the strictest for any other."""
    return _BY_SYSTEM.get(system, STRICT)
