"""W3C Trace Context, Level 1 and Level 2: reading ``traceparent``/``tracestate`` on
the way in and writing them on the way out.

https://www.w3.org/TR/trace-context/ and https://www.w3.org/TR/trace-context-2/.

In: ``parse_traceparent`` gives (trace id, parent id, flags) or None, and None means
the trace restarts here (a new trace id, the incoming ``tracestate`` ignored).
``forwardable_tracestate`` validates ``tracestate`` and returns the members we pass
on, already cut to what fits next to our own entry, or None when the header is
invalid (it is then dropped; the ``traceparent`` still holds).

Out: ``traceparent_header`` writes version 00 with a new parent id (the span of the
outgoing call) and the flags we know; ``tracestate_header`` puts our entry
``pulse=<that span id>`` first, then the members we kept, in their order.
"""

import re

SAMPLED = 0x01
RANDOM_TRACE_ID = 0x02  # Level 2: the trace id's right-most 7 bytes are random
KNOWN_FLAGS = SAMPLED | RANDOM_TRACE_ID
# A trace we start: our ids are random (random.getrandbits), and Pulse records every
# transaction it sees, so downstream services are asked to record theirs too.
NEW_TRACE_FLAGS = SAMPLED | RANDOM_TRACE_ID

VENDOR_KEY = "pulse"
MAX_MEMBERS = 32
# The specification asks to propagate at least 512 characters; more is allowed but
# every outgoing call carries it, and servers cap header sizes. Members are cut whole.
MAX_TRACESTATE_CHARS = 512
LONG_MEMBER_CHARS = 128  # cut first when the header is too long

_FLAGS_HEX = tuple("%02x" % f for f in range(KNOWN_FLAGS + 1))
_OWN_ENTRY_CHARS = len(VENDOR_KEY) + 1 + 16  # "pulse=" and a span id

# Version 00's fields; a later version starts with the same 55 characters.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE_ID = "0" * 32
_ZERO_PARENT_ID = "0" * 16
_OWS = " \t"

# Level 2's key grammar (a superset of Level 1's simple and tenant@system keys):
# a lowercase letter or digit, then up to 255 of a-z 0-9 _ - * / @.
_KEY = r"[a-z0-9][a-z0-9_\-*/@]{0,255}"
# Up to 256 printable ASCII characters but "," and "=", not ending with a space.
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(r"(%s)=%s" % (_KEY, _VALUE))


def parse_traceparent(value):
    """(trace id, parent id, flags) from a ``traceparent`` value, or None if invalid.

    Only the flags this version defines are kept; the others must not travel on."""
    if not isinstance(value, str):
        return None
    value = value.strip(_OWS)
    m = _TRACEPARENT.match(value)
    if m is None:
        return None
    version, trace_id, parent_id, flags = m.groups()
    if version == "00":
        if len(value) != 55:
            return None
    elif version == "ff":
        return None
    elif len(value) > 55 and value[55] != "-":
        return None  # a later version: more fields may follow, after a dash
    if trace_id == _ZERO_TRACE_ID or parent_id == _ZERO_PARENT_ID:
        return None
    return trace_id, parent_id, int(flags, 16) & KNOWN_FLAGS


def parse_tracestate(value):
    """The list members of a (combined) ``tracestate`` value, in order, or None if the
    header is invalid. Empty members are dropped; a repeated key keeps its first
    (left-most, most recent) member."""
    if not isinstance(value, str):
        return None
    members = []
    keys = set()
    count = 0
    for part in value.split(","):
        member = part.strip(_OWS)
        if not member:
            continue
        count += 1
        m = _MEMBER.fullmatch(member)
        if m is None or count > MAX_MEMBERS:
            return None
        key = m.group(1)
        if key not in keys:
            keys.add(key)
            members.append(member)
    return members


def forwardable_tracestate(value):
    """What of an incoming ``tracestate`` goes out after our own entry: members joined
    by ",", or None (invalid, or nothing left to forward)."""
    members = parse_tracestate(value)
    if not members:
        return None
    own = VENDOR_KEY + "="
    members = [m for m in members if not m.startswith(own)]
    kept = fit(members, MAX_MEMBERS - 1, MAX_TRACESTATE_CHARS - _OWN_ENTRY_CHARS - 1)
    return ",".join(kept) or None


def fit(members, max_members, max_chars):
    """Cut whole members until at most ``max_members`` remain, from the right, then until
    they join within ``max_chars``: members longer than 128 characters first (the
    right-most of them first), then from the right."""
    members = members[:max_members]
    size = sum(map(len, members)) + len(members) - 1
    while members and size > max_chars:
        i = len(members) - 1
        while i >= 0 and len(members[i]) <= LONG_MEMBER_CHARS:
            i -= 1
        size -= len(members.pop(i)) + 1
    return members


def traceparent_header(trace_id, span_id, flags):
    return "00-%s-%s-%s" % (trace_id, span_id, _FLAGS_HEX[flags])


def tracestate_header(span_id, forwarded):
    own = VENDOR_KEY + "=" + span_id
    return own + "," + forwarded if forwarded else own
