"""The agent→worker contract: everything both ingest and the workers must agree on.

- ``schema``: protocol v1 as the agent sends it (docs/protocol-v1.md), validated by ingest;
- ``sketches``: the wire encoding of the shared DDSketch, decoded and checked;
- ``queued``: the form ingest hands the workers (a validated payload, sketches checked);
- ``stream``: the Redis Stream entry that carries it (key, group, fields: encode and parse);
- ``redis_client``: the process-wide Redis client;
- ``builders``: agent-wire payloads with known contents, for tests, seeds and benchmarks.

Below ``ingest`` and ``apm``: it imports neither, nor anything above them.
"""
