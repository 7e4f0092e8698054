"""One-dimensional PostgreSQL arrays in binary wire format (what ``array_recv`` reads).

For the batch writes of apm/rollup/: psycopg packs list elements one by one in
Python (about 330 µs for a payload's 7 event arrays of 200; ~450 µs for a rollup
upsert's 13 arrays of 50); here fixed-width values are converted in C (``array``,
bytes slicing) and interleaved with their length words by strided slice assignment,
~15x faster.

Each packer returns a ``PgArray`` (bytes) of its array type. As a statement
parameter, psycopg sends it as is, typed (use a ``%b`` placeholder); in a binary COPY,
declare the column ``bytea`` and Postgres parses it as the column's array type.
"""

import datetime as dt
import struct
import uuid
from array import array

from psycopg import adapters as global_adapters
from psycopg.adapt import Dumper
from psycopg.pq import Format

INT8, INT2, INT4, BOOL, FLOAT8, VARCHAR, TEXT = 20, 21, 23, 16, 701, 1043, 25
BYTEA, DATE, TIMESTAMPTZ, UUID = 17, 1082, 1184, 2950
_ARRAY_OF = {
    INT8: 1016, INT2: 1005, INT4: 1007, BOOL: 1000, FLOAT8: 1022, VARCHAR: 1015, TEXT: 1009,
    BYTEA: 1001, DATE: 1182, TIMESTAMPTZ: 1185, UUID: 2951,
}


class PgArray(bytes):
    """A packed array (bytes in Postgres' binary array format) of element type ``oid``."""

    __slots__ = ()
    oid = 0


class _SendAsIs(Dumper):
    format = Format.BINARY

    def dump(self, obj):
        return obj


_types = {
    oid: type(f"PgArray{oid}", (PgArray,), {"__slots__": (), "oid": oid}) for oid in _ARRAY_OF
}
_dumpers = {
    cls: type(f"PgArray{oid}Dumper", (_SendAsIs,), {"oid": _ARRAY_OF[oid]}) for oid, cls in _types.items()
}


def register(connection):
    """Teach a psycopg connection to send PgArrays as is. Connections psycopg opens get
    them from its global adapters; Django gives its connections adapters of its own, so
    those need this once each."""
    adapters = connection.adapters
    for cls, dumper in _dumpers.items():
        adapters.register_dumper(cls, dumper)


for _cls, _dumper in _dumpers.items():
    global_adapters.register_dumper(_cls, _dumper)


def _packed(oid, data):
    return _types[oid](data)

_HEADER = struct.Struct(">iiiii")  # ndim, has nulls, element type, length, lower bound
_LITTLE = array("d", [1.0]).tobytes()[0] == 0  # byte order of this machine


def _interleave(oid, width, data, n):
    """``data``: n big-endian values of ``width`` bytes each, concatenated."""
    stride = 4 + width
    body = bytearray(n * stride)
    body[3::stride] = bytes((width,)) * n  # each element's length word: 0, 0, 0, width
    for j in range(width):
        body[4 + j :: stride] = data[j::width]
    return _packed(oid, _HEADER.pack(1, 0, oid, n, 1) + body)


def _fixed(typecode, oid, values):
    a = array(typecode, values)
    if _LITTLE:
        a.byteswap()
    return _interleave(oid, a.itemsize, a.tobytes(), len(values))


def _general(oid, fmt, values):
    """Element by element, NULLs allowed (``fmt``: the struct code of one value, or "s"
    for str, "b" for bytes)."""
    parts = []
    nulls = 0
    for v in values:
        if v is None:
            parts.append(b"\xff\xff\xff\xff")
            nulls = 1
        elif fmt == "b":
            parts.append(len(v).to_bytes(4, "big") + v)
        elif fmt == "s":
            b = v.encode()
            parts.append(struct.pack(">i", len(b)) + b)
        else:
            b = struct.pack(">" + fmt, v)
            parts.append(struct.pack(">i", len(b)) + b)
    return _packed(oid, _HEADER.pack(1, nulls, oid, len(values), 1) + b"".join(parts))


def int8s(values):
    return _fixed("q", INT8, values)


def float8s(values):
    return _fixed("d", FLOAT8, values)


def int2s(values):
    """Smallints; None becomes NULL."""
    if None in values:
        return _general(INT2, "h", values)
    return _fixed("h", INT2, values)


def bools(values):
    return _interleave(BOOL, 1, bytes(map(bool, values)), len(values))


def varchars(values, width):
    """Strings; fast when every one is ``width`` ASCII characters (as trace ids are)."""
    n = len(values)
    if n and width < 128 and set(map(len, values)) == {width}:
        # Each element is its length word then its bytes: the word joins them (one C call).
        word = "\0\0\0" + chr(width)
        data = word + word.join(values)
        if data.isascii():
            return _packed(VARCHAR, _HEADER.pack(1, 0, VARCHAR, n, 1) + data.encode())
    return _general(VARCHAR, "s", values)


def texts(values):
    """Strings of any length; None becomes NULL."""
    return _general(TEXT, "s", values)


def byteas(values):
    """Byte strings; None becomes NULL."""
    return _general(BYTEA, "b", values)


_uuid_bytes = {}  # str -> element (length word + 16 bytes): a batch repeats few apps


def uuids(values):
    """UUIDs given as strings or uuid.UUID."""
    get = _uuid_bytes.get
    parts = []
    for v in values:
        b = get(v)
        if b is None:
            if len(_uuid_bytes) > 10_000:
                _uuid_bytes.clear()
            b = _uuid_bytes[v] = b"\0\0\0\x10" + (v if isinstance(v, uuid.UUID) else uuid.UUID(v)).bytes
        parts.append(b)
    return _packed(UUID, _HEADER.pack(1, 0, UUID, len(values), 1) + b"".join(parts))


_PG_EPOCH = 946684800  # 2000-01-01 in unix seconds: Postgres' zero for dates and times


def timestamptzs(seconds):
    """Unix times (int or float seconds), to the microsecond."""
    return _fixed("q", TIMESTAMPTZ, [round((t - _PG_EPOCH) * 1_000_000) for t in seconds])


_PG_EPOCH_DATE = dt.date(2000, 1, 1).toordinal()


def dates(values):
    """datetime.date values."""
    return _fixed("i", DATE, [d.toordinal() - _PG_EPOCH_DATE for d in values])
