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
