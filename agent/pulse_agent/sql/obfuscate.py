"""Literal values in SQL text replaced by ``?`` and comments removed, by the rules of
the database that ran it. Runs on the harvest thread, only for statements about to be
sent in a trace.
"""

import re

from pulse_agent.sql.dialects import STRICT, dialect_for

MAX_SQL = 4096
_IN_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACES = re.compile(r"\s*")


def obfuscate_sql(sql, system=None):
    """``sql`` read by the rules of ``system`` (a span's ``db.system``): literals become
    ``?``, comments go, ``(?, ?, ?)`` becomes ``(?)``. A string, quoted name or comment
    that never ends makes the whole statement ``?``."""
    dialect = dialect_for(system)
    if not isinstance(sql, str):
        if isinstance(sql, bytes):
            sql = sql.decode("utf-8", "replace")
        else:
            # A composed statement object shows its parts in Python's own quoting,
            # which only the strict rules read without leaking.
            try:
                sql = str(sql)
            except Exception:
                return "?"
            dialect = STRICT
    out = _scan(sql, dialect)
    if "?" in out:
        out = _IN_LISTS.sub("(?)", out)
    return out[:MAX_SQL]


def _scan(sql, dialect):
    match = dialect.pattern.match
    pieces = []
    size = 0
    pos = 0
    while size < MAX_SQL:
        m = match(sql, pos)
        kept = m.group(1)
        if kept:
            pieces.append(kept)
            size += len(kept)
        kind = m.lastgroup
        pos = m.end()
        if kind == "literal":
            pieces.append("?")
            size += 1
        elif kind == "end":
            break
        elif kind == "comment" or kind == "nested":
            if kind == "nested":
                pos = _nested_comment_end(sql, pos)
                if pos < 0:
                    return "?"
                pos = _SPACES.match(sql, pos).end()
            # the comment's place keeps one space, so the words around it stay apart
            if pieces and not pieces[-1][-1].isspace():
                pieces.append(" ")
                size += 1
        elif kind == "other" or kind == "more_kept":
            token = m.group(kind)
            pieces.append(token)
            size += len(token)
        else:  # unterminated
            return "?"
    return "".join(pieces).strip()


def _nested_comment_end(sql, pos):
    """Where a comment that may nest ends (``pos`` is just after its ``/*``), or -1."""
    depth = 1
    while depth:
        close = sql.find("*/", pos)
        if close < 0:
            return -1
        # an opening that shares its star with the closing ("/*/") comes first
        opening = sql.find("/*", pos, close + 1)
        if opening < 0:
            depth -= 1
            pos = close + 2
        else:
            depth += 1
            pos = opening + 2
    return pos
