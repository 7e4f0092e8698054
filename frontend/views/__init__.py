"""Monitoring pages, one module per page; shared helpers in ``common``."""
