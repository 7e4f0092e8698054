"""Validating a metric's sketch at ingest, so a bad one is refused with 400, not found by a worker."""

from apm.sketches import SketchDecodeError, decode_parts


def check_sketch(data, count):
    """(None, (zero count, bins)) when ``data`` (bytes, base64-decoded by the schema) is a
    valid encoded sketch of exactly ``count`` values, else (the reason, None)."""
    try:
        zero, bins, total = decode_parts(data)
    except SketchDecodeError as exc:
        return str(exc), None
    if total != count:
        return f"sketch holds {total} values but count is {count}", None
    return None, (zero, bins)
