"""Model fields of our own."""

import msgspec
from django.db import models


class JSONBytesField(models.BinaryField):
    """JSON stored as bytes (``bytea``): Postgres neither converts nor checks it.

    For documents written once, always read whole, and validated before they are
    written (trace span trees, checked against the ingest schema): even ``json``'s
    syntax check cost Postgres ~15 us a tree, a tenth of its CPU per bench payload.
    Compressed like any large value (lz4 for apm_trace.spans, migration 0006).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", True)
        super().__init__(*args, **kwargs)

    def get_prep_value(self, value):
        if value is None or isinstance(value, bytes):
            return value
        return msgspec.json.encode(value)

    def from_db_value(self, value, expression, connection):
        return None if value is None else msgspec.json.decode(value)

    def to_python(self, value):
        if isinstance(value, (bytes, bytearray, memoryview)):
            return msgspec.json.decode(value)
        return value

    def value_to_string(self, obj):
        return msgspec.json.encode(self.value_from_object(obj)).decode()


class JSONTextField(models.JSONField):
    """JSON stored as Postgres ``json`` (the text, checked for syntax) rather than ``jsonb``
    (apm_trace.spans until migration 0006; kept for the migrations that name it).

    For documents written once and always read whole, such as trace span trees:
    Postgres then skips jsonb's conversion on insert, about half the CPU of each
    row (bench/ingest.py writes three a payload). Lookups into the document, which
    only jsonb supports, are not needed for these.
    """

    def db_type(self, connection):
        return "json"

    def from_db_value(self, value, expression, connection):
        # psycopg parses ``json`` itself (Django only hands jsonb over as text).
        if value is None or not isinstance(value, str):
            return value
        return super().from_db_value(value, expression, connection)
