"""Binary arrays packed for COPY read back as the values they were made from (real Postgres)."""

import pytest
from django.db import connection

from apm import pgarray


@pytest.mark.django_db
def test_it_round_trips_every_array_kind_through_binary_copy():
    ids = [1, 2**62, 7]
    floats = [1795667987.362031, 0.0, 86400.0, -1.5]
    statuses = [200, None, 599]
    flags = [True, False, True]
    hex_ids = ["0123456789abcdef0123456789abcdef", "f" * 32]
    odd = ["é", "", "abc"]
    with connection.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE t_arrays (a int8[], b float8[], c int2[], d int2[], e bool[], f varchar(32)[], "
            "g varchar(32)[], h int8[])"
        )
        with cur.copy("COPY t_arrays FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["bytea"] * 8)
            copy.write_row(
                (
                    pgarray.int8s(ids),
                    pgarray.float8s(floats),
                    pgarray.int2s(statuses),
                    pgarray.int2s([100, -3]),
                    pgarray.bools(flags),
                    pgarray.varchars(hex_ids, 32),
                    pgarray.varchars(odd, 32),
                    pgarray.int8s([]),
                )
            )
        cur.execute("SELECT * FROM t_arrays")
        assert cur.fetchone() == (ids, floats, statuses, [100, -3], flags, hex_ids, odd, [])


@pytest.mark.django_db
def test_every_kind_reads_back_as_a_statement_parameter():
    import datetime as dt
    import uuid

    import psycopg

    utc = dt.timezone.utc
    app = uuid.uuid4()
    cases = [
        (pgarray.int8s([1, -(2**63), 2**63 - 1]), [1, -(2**63), 2**63 - 1]),
        (pgarray.float8s([0.1, -2.5]), [0.1, -2.5]),
        (pgarray.int2s([1, None]), [1, None]),
        (pgarray.bools([True, False]), [True, False]),
        (pgarray.texts(["é\"{},\\", "", None]), ["é\"{},\\", "", None]),
        (pgarray.byteas([b"\x00\xff", b"", None]), [b"\x00\xff", b"", None]),
        (pgarray.uuids([str(app), app]), [app, app]),
        (pgarray.timestamptzs([1764151200, 1764151200.123456]),
         [dt.datetime(2025, 11, 26, 10, 0, tzinfo=utc), dt.datetime(2025, 11, 26, 10, 0, 0, 123456, tzinfo=utc)]),
        (pgarray.dates([dt.date(2026, 11, 26), dt.date(1999, 12, 31)]), [dt.date(2026, 11, 26), dt.date(1999, 12, 31)]),
        (pgarray.int8s([]), []),
    ]
    connection.ensure_connection()
    pgarray.register(connection.connection)
    cur = psycopg.Cursor(connection.connection)
    for packed, expected in cases:
        cur.execute("SELECT %b", [packed])
        got = cur.fetchone()[0]
        if expected and isinstance(expected[0], dt.datetime):
            got = [t.astimezone(utc) for t in got]
        assert got == expected, packed
