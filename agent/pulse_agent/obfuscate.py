"""SQL literal obfuscation: strings, numbers, hex and booleans become ``?``.

Runs on the harvest thread, only for SQL that is about to be sent in a trace.
"""

import re

_SQL_LITERALS = re.compile(
    r"""
      '(?:[^'\\]|\\.|'')*'                 # single-quoted string (with '' and \ escapes)
    | \$(?P<tag>[A-Za-z_]*)\$.*?\$(?P=tag)\$ # postgres dollar-quoted string
    | \b0x[0-9a-fA-F]+\b                   # hex
    | (?<![\w.$"])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b   # numbers, not inside identifiers
    | \b(?:TRUE|FALSE|true|false)\b
    """,
    re.VERBOSE | re.DOTALL,
)
_IN_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_UNMATCHED_QUOTE = re.compile(r"'.*", re.DOTALL)
MAX_SQL = 4096


def obfuscate_sql(sql):
    """Replace literal values in ``sql`` with ``?``; collapse ``(?, ?, ?)`` to ``(?)``."""
    if not isinstance(sql, str):
        try:
            sql = sql.decode("utf-8", "replace") if isinstance(sql, bytes) else str(sql)
        except Exception:
            return "?"
    out = _SQL_LITERALS.sub("?", sql)
    out = _IN_LISTS.sub("(?)", out)
    # A quote left over means a literal we could not parse (or a truncated string):
    # hide everything after it rather than risk leaking a value.
    if "'" in out:
        out = _UNMATCHED_QUOTE.sub("?", out)
    return out[:MAX_SQL]


def sql_summary(sql, max_len=255):
    """A short span name for a statement: the operation and first table, e.g. ``SELECT shop_item``."""
    if not isinstance(sql, str):
        try:
            sql = sql.decode("utf-8", "replace") if isinstance(sql, bytes) else str(sql)
        except Exception:
            return "query"
    words = sql.split(None, 12)
    if not words:
        return "query"
    op = words[0].upper()
    target = None
    key = {"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "UPDATE": None}.get(op, "")
    if op == "UPDATE" and len(words) > 1:
        target = words[1]
    elif key:
        upper = [w.upper() for w in words]
        if key in upper:
            i = upper.index(key)
            if i + 1 < len(words):
                target = words[i + 1]
    if target:
        target = target.strip('`"[];(),').split("(")[0]
        return ("%s %s" % (op, target))[:max_len]
    return op[:max_len]
