"""Validating a metric's sketch at ingest, so a bad one is refused with 400, not found by a worker."""

from apm.sketches import SketchDecodeError, decode_not_small, split_small
from ingest.queued import sketch_fields


def check_sketch(data, count):
    """(None, sketch fields of ingest.queued.QueuedMetric) when ``data`` (bytes,
    base64-decoded by the schema) is a valid wire-encoded sketch of exactly ``count``
    values, else (the reason, None).

    The fields are (zero count, bins, first index, first count, steps, counts): a harvest
    sketch (one-byte varints past its first bin, nearly all of them) is checked without
    being expanded and handed on split (``bins`` empty); any other in ``bins``."""
    small = split_small(data)
    if small is not None:
        zero, first, c0, steps, counts, total = small
        if total != count:
            return f"sketch holds {total} values but count is {count}", None
        return None, (zero, {}, first, c0, steps, counts)
    try:
        s = decode_not_small(data)
    except SketchDecodeError as exc:
        return str(exc), None
    if s.count != count:
        return f"sketch holds {s.count} values but count is {count}", None
    return None, sketch_fields(s)
