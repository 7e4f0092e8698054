"""SQL obfuscation by dialect, in-process (nothing here starts the agent).

The case tables are written from each database's documented literal rules:
PostgreSQL "Lexical Structure" (4.1), MySQL "String Literals", "Hexadecimal
Literals", "Bit-Value Literals" and "Comments", SQLite "SQL Language Expressions"
(literal values, parameters) and "SQLite Keywords" (identifier quoting), Oracle
"Literals" (text literals with q-quoting, numeric literals). ``None`` stands for a
database we have no rules for: the strictest reading.
"""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pulse_agent import config
from pulse_agent.aggregator import trace_dict
from pulse_agent.sql import obfuscate_sql, sql_summary
from pulse_agent.sql.obfuscate import MAX_SQL
from pulse_agent.transaction import DATABASE, Transaction

POSTGRES = [
    # strings: standard-conforming, so a backslash is just a character
    ("SELECT * FROM t WHERE p='C:\\' AND s='hunter2'", "SELECT * FROM t WHERE p=? AND s=?"),
    ("SELECT 'O''Brien', 'a\\''' , 'x'", "SELECT ?, ? , ?"),
    ("SELECT 'trailing\\', 2", "SELECT ?, ?"),
    # escape strings read backslashes, continuation lines too
    ("SELECT E'it\\'s', e'\\\\', E'a''b'", "SELECT ?, ?, ?"),
    ("SELECT E'a'\n  'b\\'c', 2", "SELECT ?, ?"),
    ("SELECT U&'d\\0061t\\+000061', U&'x' UESCAPE '!'", "SELECT ?, ? UESCAPE ?"),
    ("SELECT N'nat', B'1001', b'1', X'1FF', x'1f'", "SELECT ?, ?, ?, ?, ?"),
    # dollar quoting, not to be confused with positional parameters
    ("SELECT $$it's$$, $fn$ body $$ 'x' $fn$ FROM t WHERE a = $1", "SELECT ?, ? FROM t WHERE a = $1"),
    ("SELECT $a$ one $a$, $b$ two $b$", "SELECT ?, ?"),
    ("SELECT x$1 FROM t", "SELECT x$1 FROM t"),
    # identifiers
    ('SELECT "weird 5", "it\'s", "a""b", U&"d\\0061t" FROM "t1"', 'SELECT "weird 5", "it\'s", "a""b", U&"d\\0061t" FROM "t1"'),
    ("SELECT t1.col_2, _x9 FROM s3.t1", "SELECT t1.col_2, _x9 FROM s3.t1"),
    # numbers, booleans, UUIDs
    ("SELECT 42, 3.5, 4., .001, 5e2, 1.925e-3, 0x42F, 0o273, 0b100101, 1_500_000", "SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"),
    ("SELECT a - 1, b-2, -3 FROM t", "SELECT a - ?, b-?, -? FROM t"),
    ("SELECT TRUE, false, trueish FROM t", "SELECT ?, ?, trueish FROM t"),
    ("SELECT * FROM t WHERE u = 01234567-89ab-cdef-0123-456789abcdef", "SELECT * FROM t WHERE u = ?"),
    ("SELECT * FROM t WHERE u = deadbeef-89ab-cdef-0123-456789ABCDEF", "SELECT * FROM t WHERE u = ?"),
    # placeholders and casts stay
    ("SELECT %s, %(name)s, %(p1)s, $2, '5'::int, 7::text", "SELECT %s, %(name)s, %(p1)s, $2, ?::int, ?::text"),
    ("SELECT * FROM t WHERE id IN (1, 2, 3) AND x IN ( 'a' , 'b' )", "SELECT * FROM t WHERE id IN (?) AND x IN (?)"),
    # comments go, nested ones whole; markers inside strings are text
    ("SELECT a /* it's */ FROM t WHERE b = 'secret'", "SELECT a FROM t WHERE b = ?"),
    ("SELECT a -- it's\nFROM t WHERE b = 'secret'", "SELECT a FROM t WHERE b = ?"),
    ("SELECT 1 /* outer /* inner */ 'secret' */, 2", "SELECT ? , ?"),
    ("SELECT a/**/FROM t", "SELECT a FROM t"),
    ("SELECT '/* no comment */', '-- nor this', $$/*$$ FROM t", "SELECT ?, ?, ? FROM t"),
    ("/* user='alice' */ SELECT 1", "SELECT ?"),
    # what never ends hides everything
    ("SELECT 'unterminated secret", "?"),
    ("SELECT E'secret\\'", "?"),
    ("SELECT 1 /* a /*/ b */ secret", "?"),
    ("SELECT $x$ secret", "?"),
    ("SELECT 1 /* secret", "?"),
    ("SELECT 1 /* a /* b */ secret", "?"),
    ('SELECT "secret', "?"),
]

MYSQL = [
    # backslash escapes: the first string runs on to the next quote
    ("SELECT * FROM t WHERE p='C:\\' AND s='hunter2'", "?"),
    ("SELECT 'it\\'s', 'it''s', 'C:\\\\', '\\\\''' FROM t", "SELECT ?, ?, ?, ? FROM t"),
    # double quotes are strings (ANSI_QUOTES off, and the safe side when on)
    ('SELECT * FROM t WHERE a = "secret" AND b = "it\'s \\"x\\""', "SELECT * FROM t WHERE a = ? AND b = ?"),
    ("SELECT _utf8mb4'x', _binary'y', N'z', n'w'", "SELECT ?, ?, ?, ?"),
    ("SELECT X'0F', x'0f', 0x1F, B'01', b'01', 0b01", "SELECT ?, ?, ?, ?, ?, ?"),
    ("SELECT .5, 1., 1e-3, -2 FROM t", "SELECT ?, ?, ?, -? FROM t"),
    ("SELECT `weird 5`, `a``b`, t1.col_2 FROM `t1`", "SELECT `weird 5`, `a``b`, t1.col_2 FROM `t1`"),
    ("SELECT * FROM t WHERE a = %s AND b = %(name)s", "SELECT * FROM t WHERE a = %s AND b = %(name)s"),
    # comments: #, "-- " (with whitespace), /* */ including hints and versioned ones
    ("SELECT a # it's a comment\nFROM t", "SELECT a FROM t"),
    ("SELECT a -- it's\nFROM t WHERE b = 'secret'", "SELECT a FROM t WHERE b = ?"),
    ("SELECT 5--1, 3 --\tnote", "SELECT ?--?, ?"),
    ("SELECT /*+ INDEX(t i1) */ a /*!50000 'x' */ FROM t", "SELECT a FROM t"),
    ("SELECT '#not', '/*not*/', \"-- not\" FROM t", "SELECT ?, ?, ? FROM t"),
    ("SELECT * FROM t WHERE u = 01234567-89ab-cdef-0123-456789abcdef AND f = TRUE", "SELECT * FROM t WHERE u = ? AND f = ?"),
    ('SELECT "secret', "?"),
    ("SELECT 'secret\\'", "?"),
    ("SELECT `t", "?"),
    ("SELECT 1 /* secret", "?"),
]

SQLITE = [
    # no backslash escapes; '' is a quote
    ("SELECT * FROM t WHERE p='C:\\' AND s='hunter2'", "SELECT * FROM t WHERE p=? AND s=?"),
    ("SELECT 'it''s', X'0F', x'0f', 0x1F, 0X1f FROM t", "SELECT ?, ?, ?, ?, ? FROM t"),
    ("SELECT .5, 1., 1e-3, 1.5E+10, 1_000, TRUE, FALSE", "SELECT ?, ?, ?, ?, ?, ?, ?"),
    # the three quoted identifier forms stay, digits and all
    ('SELECT "weird 5", [weird 6], `weird 7`, "a""b", `c``d` FROM t1', 'SELECT "weird 5", [weird 6], `weird 7`, "a""b", `c``d` FROM t1'),
    ("SELECT * FROM t WHERE a = ? AND b = ?1 AND c = :name AND d = @v2 AND e = $v", "SELECT * FROM t WHERE a = ? AND b = ?1 AND c = :name AND d = @v2 AND e = $v"),
    ("SELECT a /* it's */ FROM t -- 'x'\n WHERE b = 'secret'", "SELECT a FROM t WHERE b = ?"),
    # /* does not nest in SQLite: the string after the first */ is a string
    ("SELECT /* /* */ 'x' FROM t", "SELECT ? FROM t"),
    ("SELECT * FROM t WHERE id IN (?, ?, ?)", "SELECT * FROM t WHERE id IN (?)"),
    ("SELECT * FROM t WHERE u = abcdef01-89ab-cdef-0123-456789abcdef", "SELECT * FROM t WHERE u = ?"),
    ("SELECT [secret", "?"),
    ("SELECT 'secret", "?"),
    ('SELECT "secret', "?"),
]

ORACLE = [
    ("SELECT q'[it's]', Q'{a}b}', q'<x>', q'(y)', q'!z!', nq'#n#', N'nat' FROM dual", "SELECT ?, ?, ?, ?, ?, ?, ? FROM dual"),
    ("SELECT q'[a]' || 'it''s' || q'|x'y|' FROM dual", "SELECT ? || ? || ? FROM dual"),
    ("SELECT * FROM t WHERE p='C:\\' AND s='hunter2'", "SELECT * FROM t WHERE p=? AND s=?"),
    ("SELECT 25, 25.5, .5, 1e-3, 25f, 2.5d, TRUE FROM dual", "SELECT ?, ?, ?, ?, ?, ?, ? FROM dual"),
    ('SELECT emp#, sys$x, "weird 5", "it\'s" FROM t1 WHERE a = :1 AND b = :name', 'SELECT emp#, sys$x, "weird 5", "it\'s" FROM t1 WHERE a = :1 AND b = :name'),
    ("SELECT /*+ FULL(t) */ a -- it's\nFROM t", "SELECT a FROM t"),
    ("SELECT q'[secret' FROM dual", "?"),
    ("SELECT 'secret", "?"),
]

STRICT = [
    # every form any dialect reads as a literal is one, double quotes included
    ('SELECT "x", `y` FROM t WHERE a = "secret"', "SELECT ?, `y` FROM t WHERE a = ?"),
    ("SELECT $$a$$, q'[b]', E'c', N'd', X'0F', 0x1F, .5, TRUE", "SELECT ?, ?, ?, ?, ?, ?, ?, ?"),
    # a backslash in a string means what the dialect says: unknown here
    ("SELECT * FROM t WHERE p='C:\\' AND s='hunter2'", "?"),
    ("SELECT 'a\\b'", "?"),
    # every comment form, nested ones whole
    ("SELECT a # x\n, b -- y\n, c /* /* z */ 'secret' */ FROM t", "SELECT a , b , c FROM t"),
    ("SELECT * FROM t WHERE a = %s AND b = $1 AND c = :1 AND d = :name AND e = ?", "SELECT * FROM t WHERE a = %s AND b = $1 AND c = :1 AND d = :name AND e = ?"),
    ("SELECT t1.col_2 FROM t1", "SELECT t1.col_2 FROM t1"),
    ("SELECT 'secret", "?"),
    ("SELECT /* secret", "?"),
]

CASES = (
    [("postgresql", s, e) for s, e in POSTGRES]
    + [("mysql", s, e) for s, e in MYSQL]
    + [("sqlite", s, e) for s, e in SQLITE]
    + [("oracle", s, e) for s, e in ORACLE]
    + [(None, s, e) for s, e in STRICT]
)


@pytest.mark.parametrize("system, sql, expected", CASES)
def test_literals_are_read_by_each_dialects_rules(system, sql, expected):
    assert obfuscate_sql(sql, system) == expected


# Each leak the single regex had (and fails on it): the dialect, the statement and
# what must not come out.
LEAKS = [
    ("postgresql", "SELECT * FROM t WHERE p='C:\\' AND s='hunter2'", "hunter2"),
    ("postgresql", "SELECT * FROM t /* user=alice */", "alice"),
    ("postgresql", "SELECT * FROM t -- user: alice", "alice"),
    ("mysql", "SELECT * FROM t # user: alice", "alice"),
    ("mysql", 'SELECT * FROM t WHERE password = "hunter2"', "hunter2"),
    ("postgresql", "SELECT a /* it's */ FROM t WHERE b = 'hunter2' AND c = 'x'", "hunter2"),
    ("postgresql", "SELECT * FROM t WHERE id = abcdef01-2345-4789-abcd-ef0123456789", "abcdef"),
    ("postgresql", "SELECT * FROM t WHERE id = 01234567-89ab-cdef-0123-456789abcdef", "cdef"),
    # unterminated in PostgreSQL's reading: the text before it can't be trusted either
    ("postgresql", "SELECT 'C:\\' , 'hunter2", "hunter2"),
    ("sqlite", "SELECT 'a' || 'it\\' , 'hunter2' FROM t", "hunter2"),
    ("oracle", "SELECT q'[it's hunter2]' FROM dual", "hunter2"),
    ("postgresql", "SELECT 1 /* outer /* inner */ hunter2 */", "hunter2"),
]


@pytest.mark.parametrize("system, sql, secret", LEAKS)
def test_known_leaks_are_closed(system, sql, secret):
    assert secret not in obfuscate_sql(sql, system)


def test_any_other_database_gets_the_strictest_rules():
    sql = 'SELECT "name" FROM t WHERE a = 1 # note'
    assert obfuscate_sql(sql, "microsoft") == obfuscate_sql(sql, None) == "SELECT ? FROM t WHERE a = ?"


def test_bytes_and_statement_objects_are_read_safely():
    assert obfuscate_sql(b"SELECT 'x' FROM t", "sqlite") == "SELECT ? FROM t"

    class Composed:  # what a composed statement object's str() looks like
        def __str__(self):
            return """Composed([SQL('SELECT * FROM t WHERE a = '), Literal("it's hunter2")])"""

    assert "hunter2" not in obfuscate_sql(Composed(), "postgresql")

    class Broken:
        def __str__(self):
            raise ValueError

    assert obfuscate_sql(Broken(), "postgresql") == "?"


def test_long_statements_are_cut_after_obfuscation():
    sql = "INSERT INTO t (a) VALUES " + ", ".join("('hunter%d')" % i for i in range(5000))
    out = obfuscate_sql(sql, "postgresql")
    assert len(out) == MAX_SQL and "hunter" not in out
    assert out.startswith("INSERT INTO t (a) VALUES (?), (?)")
    # the scanner reads long runs of names in steps, never splitting one
    names = "SELECT " + ", ".join("t%d.col_%d" % (i, i) for i in range(2000))
    assert obfuscate_sql(names + " FROM t", "sqlite") == names[:MAX_SQL]


def test_sql_summary_names_operation_and_table():
    assert sql_summary('SELECT "a" FROM "shop_item" WHERE x = 1') == "SELECT shop_item"
    assert sql_summary("insert into log (a) values (1)") == "INSERT log"
    assert sql_summary("UPDATE shop_item SET a = 1") == "UPDATE shop_item"
    assert sql_summary("BEGIN") == "BEGIN"
    assert sql_summary("") == "query"
    assert sql_summary("?") == "query"


RAW = "/* user='alice' */ SELECT name FROM item WHERE id = 7"


@pytest.mark.parametrize("record_sql, sent", [
    ("obfuscated", "SELECT name FROM item WHERE id = ?"),
    ("raw", RAW),
    ("off", None),
])
def test_spans_are_named_from_the_obfuscated_text_whatever_is_sent(record_sql, sent):
    txn = Transaction("t")
    txn.start = 0.0
    txn.spans.append((DATABASE, None, txn.t0, txn.t0 + 0.001, RAW, "sqlite"))
    settings = config.load(environ={"PULSE_RECORD_SQL": record_sql})
    [_, span] = trace_dict(txn, settings)["spans"]
    assert span["name"] == "SELECT item"
    assert span["attrs"].get("sql") == sent
    assert span["attrs"]["db.system"] == "sqlite"


# -- property: a secret in any literal form of any dialect never comes out ---------

SECRET = "hunter"
# Pieces that make literals hard to read: quotes of every kind, escapes, comment and
# dollar-quote markers, delimiters of Oracle's q'…', line breaks.
HOSTILE = ["'", "''", '"', "\\", "\\'", "`", "/*", "*/", "--", "#", "$", "$$", "\n", " ",
           "]", "}", ">", ")", "!", "?", ",", "(", "x", "0"]
# Every secret ends with SECRET, so no encoder below has to mind its last character.
secrets = st.lists(st.sampled_from(HOSTILE + [SECRET]), max_size=12).map(
    lambda parts: "".join(parts) + SECRET
)


def standard(s):
    return "'%s'" % s.replace("'", "''")


def backslashed(s, quote="'"):
    return quote + s.replace("\\", "\\\\").replace(quote, "\\" + quote) + quote


def backslashed_doubled(s):
    return "'%s'" % s.replace("\\", "\\\\").replace("'", "''")


def dollar_quoted(s):
    assume("$q$" not in s)
    return "$q$%s$q$" % s


def oracle_q(s):
    for opening, closing in (("[", "]"), ("{", "}"), ("<", ">"), ("(", ")"), ("!", "!")):
        if closing + "'" not in s:
            return "q'%s%s%s'" % (opening, s, closing)
    assume(False)


def block_comment(s, nests=False):
    assume("*/" not in s and not (nests and "/*" in s))
    return "/*%s*/" % s


def line_comment(s, marker="--"):
    return "%s %s\n" % (marker, s.replace("\n", " "))


FORMS = {
    "postgresql": [standard, lambda s: "E" + backslashed(s), lambda s: "U&" + standard(s),
                   dollar_quoted, lambda s: block_comment(s, nests=True), line_comment],
    "mysql": [backslashed, lambda s: backslashed(s, '"'), lambda s: "_utf8mb4" + backslashed(s),
              backslashed_doubled, block_comment, line_comment, lambda s: line_comment(s, "#")],
    "sqlite": [standard, block_comment, line_comment],
    "oracle": [standard, oracle_q, lambda s: "N" + standard(s), block_comment, line_comment],
}
ALL_FORMS = [(system, i) for system, forms in FORMS.items() for i in range(len(forms))]


def statement(literal):
    return 'SELECT "t1"."col_2" FROM "t1" WHERE "t1"."a" = %s AND b IN (%s, %%s)' % (literal, literal)


@pytest.mark.parametrize("system, form", ALL_FORMS)
@given(secret=secrets)
def test_a_secret_never_comes_out_of_its_own_dialect(system, form, secret):
    sql = statement(FORMS[system][form](secret))
    assert SECRET not in obfuscate_sql(sql, system)


@pytest.mark.parametrize("system, form", ALL_FORMS)
@given(secret=secrets)
def test_the_strict_rules_read_every_dialects_literals_safely(system, form, secret):
    sql = statement(FORMS[system][form](secret))
    assert SECRET not in obfuscate_sql(sql, None)


@given(value=st.one_of(
    st.integers(min_value=0),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    st.integers(min_value=0).map(hex),
    st.integers(min_value=0).map(bin),
    st.uuids().map(str),
))
def test_numbers_and_uuids_never_come_out(value):
    for system in ("postgresql", "mysql", "sqlite", "oracle", None):
        out = obfuscate_sql("SELECT a FROM t WHERE b = %s" % value, system)
        assert out == "SELECT a FROM t WHERE b = ?", (system, value)
