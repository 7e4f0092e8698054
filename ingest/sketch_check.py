"""Validating a metric's sketch at ingest, so a bad one is refused with 400, not found by a worker."""

from apm.sketches import SketchDecodeError, decode_base64


def check_sketch(text, count):
    """(None, sketch) when ``text`` is a valid encoded sketch of exactly ``count`` values,
    else (the reason, None)."""
    try:
        sketch = decode_base64(text)
    except SketchDecodeError as exc:
        return str(exc), None
    if sketch.count != count:
        return f"sketch holds {sketch.count} values but count is {count}", None
    return None, sketch
