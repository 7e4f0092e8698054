"""The SQL scanner: one compiled pattern per dialect, read left to right in one pass.

Each match of a dialect's pattern is a run of tokens kept as they are (whitespace,
keywords, identifiers, quoted identifiers, placeholders, operators) followed by one
token that is not: a literal, a comment, the opening of a nested comment, the start of
a string or quoted name that never ends, or the end of the text (or simply the next
kept token, when the run reached its bound). Only that last token costs a step of the
Python loop, so a statement's identifiers are read by the regex engine alone. The
token after the run always matches (the last alternative takes any single character),
so the engine never backtracks into the run.
"""

import re

# Shared token forms, written once for every dialect.
BOOLEAN = r"(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])(?![\w$])"
UUID = r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![\w$])"
# Anything that starts with a digit (or a dot and a digit) is a number to the end of its
# word: 1, 1., .5, 1e-3, 0x1F, 0b01, 0o17, 1_000, 1.5f, and never leaves a piece behind.
NUMBER = r"(?:\d[\w$]*(?:\.[\w$]*)?|\.\d[\w$]*)(?:(?<=[eE])[-+]\d[\w$]*)?"
WHITESPACE = r"\s+"
# The regex engine keeps state for every token of a run, so a run is bounded: a long
# statement without literals costs a few more steps instead of memory in proportion.
MAX_KEPT_RUN = 1000
LINE_COMMENT = r"--[^\n]*"
BLOCK_COMMENT = r"/\*[\s\S]*?\*/"


def identifier(more_chars="$", prefixes=""):
    """An unquoted name: not a boolean, not the start of an unquoted UUID, and not a
    string prefix (a name directly followed by a quote, like ``E'`` or ``_utf8mb4'``,
    or one of the dialect's other ``prefixes``)."""
    chars = r"\w" + re.escape(more_chars)
    avoid = BOOLEAN + r"|[0-9A-Fa-f]{8}-" + ("|" + prefixes if prefixes else "")
    return r"(?!%s)[^\W\d][%s]*(?![%s'])" % (avoid, chars, chars)


def operators(specials):
    """A run of characters that start nothing but an operator or punctuation."""
    return r"[^\w\s%s]+" % re.escape(specials)


class Dialect:
    """A dialect's tokens compiled into one pattern (see the module docstring):
    ``kept`` stay as they are, ``literals`` become ``?``, ``comments`` go, and
    ``unterminated`` are openings that found no end. With ``nested_comments`` a
    ``/*`` is left to the scanner, which counts how deep it goes."""

    def __init__(self, name, kept, literals, comments, unterminated, nested_comments=False):
        self.name = name
        tokens = [
            "(?P<literal>%s)" % "|".join(literals),
            "(?P<comment>(?:%s)\\s*)" % "|".join(comments),
        ]
        if nested_comments:
            tokens.append(r"(?P<nested>/\*)")
        kept = "|".join(kept)
        tokens += [
            "(?P<unterminated>%s)" % "|".join(unterminated),
            r"(?P<end>\Z)",
            "(?P<more_kept>%s)" % kept,
            r"(?P<other>[\s\S])",
        ]
        self.pattern = re.compile(
            "(?P<kept>(?:%s){0,%d})(?:%s)" % (kept, MAX_KEPT_RUN, "|".join(tokens))
        )

    def __repr__(self):
        return "<Dialect %s>" % self.name
