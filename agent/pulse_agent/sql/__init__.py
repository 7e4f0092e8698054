"""SQL text in traces: literals hidden by each database's own rules, and span names.

``obfuscate_sql(sql, system)`` reads a statement with the dialect its span's
``db.system`` names (``dialects``), scanning it once (``lexer``); ``sql_summary``
names the span. Both run on the harvest thread, never on the request path.
"""

from pulse_agent.sql.obfuscate import obfuscate_sql
from pulse_agent.sql.summary import sql_summary

__all__ = ["obfuscate_sql", "sql_summary"]
