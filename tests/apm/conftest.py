from tests.ingest.conftest import consumer, ingest_key, outsider_key, private_stream  # noqa: F401
