"""Text that people chose (organisation, channel, app names), made safe to put in an e-mail.

Pulse's mail goes out under Pulse's name, so a name must never read as Pulse's own words:
it is put on one line (no control characters, so no header or paragraph of its own),
shortened, and set in quotation marks.
"""

import unicodedata

_LIMIT = 80


def quoted(text, limit=_LIMIT):
    cleaned = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in str(text))
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "\u2026"
    return f"\u201c{cleaned}\u201d"
