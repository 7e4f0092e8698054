"""Model fields of our own."""

from django.db import models


class JSONTextField(models.JSONField):
    """JSON stored as Postgres ``json`` (the text, checked for syntax) rather than ``jsonb``.

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
