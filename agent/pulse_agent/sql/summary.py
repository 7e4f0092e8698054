"""A short span name for a statement: the operation and first table."""


def sql_summary(sql, max_len=255):
    """E.g. ``SELECT shop_item``; ``query`` when the text starts with no keyword.

    Give it the obfuscated statement: a name is sent even when the SQL text is not."""
    words = sql.split(None, 12)
    if not words or not words[0].isidentifier():
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
