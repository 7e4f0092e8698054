"""The exception of ingest's inline path, below both the handler and the resolvers it calls."""


class NeedsDatabase(Exception):
    """Raised on the inline path (``handler.check(..., inline=True)``) when an answer is not in
    the per-process caches: the caller runs the check again where it may query."""
