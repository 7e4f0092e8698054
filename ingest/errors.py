"""The exceptions of ingest, below both the handler and the resolvers it calls."""


class NeedsDatabase(Exception):
    """Raised on the inline path (``handler.check(..., inline=True)``) when an answer is not in
    the per-process caches: the caller runs the check again where it may query."""


class Refused(Exception):
    """A request ingest refuses, whatever the protocol that words the answer: the HTTP
    ``status``, a ``code`` and ``message`` for people, the ``field`` at fault, extra
    ``headers`` (Retry-After)."""

    def __init__(self, status, code, message, field=None, headers=()):
        super().__init__(message)
        self.status, self.code, self.message, self.field, self.headers = status, code, message, field, list(headers)
