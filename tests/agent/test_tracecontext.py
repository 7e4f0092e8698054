"""W3C Trace Context Level 1 and Level 2, one rule per test, through what the hooks call:
``Transaction.accept_traceparent`` on the way in, ``outgoing_headers`` on the way out.

Cases written from https://www.w3.org/TR/trace-context/ and
https://www.w3.org/TR/trace-context-2/ (section numbers in the test docstrings)."""

import pytest

from pulse_agent.instrumentation import _http, asgi
from pulse_agent.state import reset_current
from pulse_agent.tracecontext import fit, parse_traceparent
from pulse_agent.transaction import Transaction

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
SPAN = "b9c7c989f97918e1"  # the span of an outgoing call
VALID = "00-%s-%s-01" % (TRACE, PARENT)


def continued(traceparent, tracestate=None):
    txn = Transaction("t")
    txn.accept_traceparent(traceparent, tracestate)
    return txn


def out(traceparent, tracestate=None):
    return continued(traceparent, tracestate).outgoing_headers(SPAN)


def is_continued(traceparent):
    txn = continued(traceparent, "other=1")
    return txn.trace_id is not None


def assert_restarted(headers, incoming_trace=TRACE):
    """A new trace: our own trace id and flags, nothing of the incoming tracestate."""
    version, trace_id, parent_id, flags = headers["traceparent"].split("-")
    assert (version, parent_id, flags) == ("00", SPAN, "03")
    assert trace_id != incoming_trace and len(trace_id) == 32 and int(trace_id, 16) != 0
    assert headers["tracestate"] == "pulse=" + SPAN


# -- traceparent: version 00 (3.2.2) ---------------------------------------------------


def test_a_valid_traceparent_continues_the_trace_with_a_new_parent_id():
    txn = continued(VALID)
    assert (txn.trace_id, txn.parent_span_id) == (TRACE, PARENT)
    assert out(VALID)["traceparent"] == "00-%s-%s-01" % (TRACE, SPAN)


@pytest.mark.parametrize("suffix", ["-", "-00", "0", " x", ".", "-" + "0" * 40])
def test_version_00_with_anything_after_the_flags_restarts_the_trace(suffix):
    assert_restarted(out(VALID + suffix, "other=1"))


@pytest.mark.parametrize(
    "header",
    [
        "00-%s-%s-1" % (TRACE, PARENT),  # flags too short
        "00-%s-%s-01" % (TRACE[:-1], PARENT),  # trace id too short
        "00-%s-%s-01" % (TRACE, PARENT[:-1]),  # parent id too short
        "00-%s0-%s-01" % (TRACE, PARENT),  # trace id too long
        "00-%s-%s0-01" % (TRACE, PARENT),  # parent id too long
        "00-%s-%s-001" % (TRACE, PARENT),  # flags too long
        "00_%s_%s_01" % (TRACE, PARENT),  # not dashes
        "0-%s-%s-01" % (TRACE, PARENT),  # version too short
        "000-%s-%s-01" % (TRACE, PARENT),  # version too long
        "",
    ],
)
def test_fields_of_the_wrong_length_or_delimiter_restart_the_trace(header):
    assert not is_continued(header)


@pytest.mark.parametrize(
    "header",
    [
        "0A-%s-%s-01" % (TRACE, PARENT),
        "00-%s-%s-01" % (TRACE.upper(), PARENT),
        "00-%s-%s-01" % (TRACE, PARENT.upper()),
        "00-%s-%s-0A" % (TRACE, PARENT),
    ],
)
def test_hex_must_be_lowercase(header):
    assert not is_continued(header)


@pytest.mark.parametrize(
    "header",
    [
        "0g-%s-%s-01" % (TRACE, PARENT),
        "00-%sg-%s-01" % (TRACE[:-1], PARENT),
        "00-%s-%sz-01" % (TRACE, PARENT[:-1]),
        "00-%s-%s-0x" % (TRACE, PARENT),
        "00-%s-%s-.1" % (TRACE, PARENT),
    ],
)
def test_non_hex_characters_restart_the_trace(header):
    assert not is_continued(header)


def test_an_all_zero_trace_id_restarts_the_trace():
    assert_restarted(out("00-%s-%s-01" % ("0" * 32, PARENT), "other=1"), "0" * 32)


def test_an_all_zero_parent_id_restarts_the_trace():
    assert_restarted(out("00-%s-%s-01" % (TRACE, "0" * 16), "other=1"))


def test_optional_whitespace_around_the_value_is_ignored():
    assert continued(" \t%s\t " % VALID).trace_id == TRACE


def test_two_traceparent_headers_joined_by_a_server_restart_the_trace():
    """RFC 9110 5.3: repeated lines combine with ","; traceparent is a single value."""
    other = "00-%s-%s-01" % ("1" * 32, "2" * 16)
    assert not is_continued(VALID + "," + other)
    assert not is_continued("cc" + VALID[2:] + ",cc" + other[2:])


def test_values_that_are_not_text_are_ignored():
    for value in (None, b"", 42, VALID.encode()):
        assert parse_traceparent(value) is None


# -- traceparent: versions (3.2.4) ---------------------------------------------------


def test_version_ff_is_invalid():
    assert not is_continued("ff" + VALID[2:])


@pytest.mark.parametrize("tail", ["", "-", "-what-the-future-holds", "-" + "z" * 100])
def test_a_higher_version_is_read_from_its_first_55_characters(tail):
    txn = continued("cc" + VALID[2:] + tail)
    assert (txn.trace_id, txn.parent_span_id) == (TRACE, PARENT)


@pytest.mark.parametrize("tail", ["0", "x-more", ".", " -"])
def test_a_higher_version_needs_a_dash_after_the_flags(tail):
    assert not is_continued("cc" + VALID[2:] + tail)


def test_a_higher_version_goes_out_as_version_00():
    headers = out("cc" + VALID[2:] + "-extra-field")
    assert headers["traceparent"] == "00-%s-%s-01" % (TRACE, SPAN)


def test_a_higher_version_sends_only_the_flags_this_version_knows():
    headers = out("cc-%s-%s-ff-extra" % (TRACE, PARENT))
    assert headers["traceparent"].endswith("-03")


# -- trace-flags (3.2.2.5; Level 2 for the random flag) ------------------------------


@pytest.mark.parametrize("flags", ["00", "01"])
def test_the_callers_sampled_decision_is_propagated(flags):
    headers = out("00-%s-%s-%s" % (TRACE, PARENT, flags))
    assert headers["traceparent"] == "00-%s-%s-%s" % (TRACE, SPAN, flags)


@pytest.mark.parametrize("flags, sent", [("02", "02"), ("03", "03"), ("00", "00"), ("01", "01")])
def test_the_random_trace_id_flag_is_propagated_as_received(flags, sent):
    headers = out("00-%s-%s-%s" % (TRACE, PARENT, flags))
    assert headers["traceparent"].endswith("-" + sent)


@pytest.mark.parametrize("flags, sent", [("04", "00"), ("05", "01"), ("fe", "02"), ("ff", "03"), ("80", "00")])
def test_unknown_flags_are_not_propagated(flags, sent):
    headers = out("00-%s-%s-%s" % (TRACE, PARENT, flags))
    assert headers["traceparent"].endswith("-" + sent)


def test_a_trace_we_start_is_sampled_and_has_a_random_trace_id():
    txn = Transaction("t")
    first = txn.outgoing_headers(SPAN)
    version, trace_id, parent_id, flags = first["traceparent"].split("-")
    assert (version, parent_id, flags) == ("00", SPAN, "03")
    assert len(trace_id) == 32 and int(trace_id, 16) != 0
    assert Transaction("t").outgoing_headers(SPAN)["traceparent"] != first["traceparent"]


def test_every_outgoing_call_gets_its_own_parent_id():
    txn = continued(VALID)
    sent = {}
    span_ids = [_http.inject(txn, sent.__setitem__) for _ in range(2)]
    assert span_ids[0] != span_ids[1] and PARENT not in span_ids
    assert sent["traceparent"] == "00-%s-%s-01" % (TRACE, span_ids[1])
    assert sent["tracestate"] == "pulse=" + span_ids[1]


# -- tracestate: when it is read (3.3) ------------------------------------------------


def test_tracestate_is_ignored_when_traceparent_is_invalid():
    headers = out("00-%s-%s-01" % (TRACE, "0" * 16), "congo=t61rcWkgMzE")
    assert headers["tracestate"] == "pulse=" + SPAN


def test_an_invalid_tracestate_is_dropped_but_the_traceparent_holds():
    headers = out(VALID, "congo=t61rcWkgMzE,Rojo=1")
    assert headers["traceparent"] == "00-%s-%s-01" % (TRACE, SPAN)
    assert headers["tracestate"] == "pulse=" + SPAN


def test_tracestate_without_traceparent_is_discarded():
    txn = Transaction("t")
    txn.accept_traceparent(None, "congo=t61rcWkgMzE")
    assert txn.outgoing_headers(SPAN)["tracestate"] == "pulse=" + SPAN


# -- tracestate: list (3.3.1.3) -------------------------------------------------------


def test_members_are_forwarded_after_our_entry_in_their_order():
    headers = out(VALID, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,a=1")
    assert headers["tracestate"] == "pulse=%s,rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,a=1" % SPAN


def test_optional_whitespace_around_members_is_dropped():
    headers = out(VALID, " \trojo=1 \t, \tcongo=2\t ,a=3 ")
    assert headers["tracestate"] == "pulse=%s,rojo=1,congo=2,a=3" % SPAN


def test_empty_members_are_allowed_and_dropped():
    headers = out(VALID, ",rojo=1,, \t ,congo=2,")
    assert headers["tracestate"] == "pulse=%s,rojo=1,congo=2" % SPAN


@pytest.mark.parametrize("value", ["", " ", ",", " , \t, "])
def test_an_empty_tracestate_is_accepted_and_not_sent_on(value):
    txn = continued(VALID, value)
    assert txn.trace_id == TRACE
    assert txn.outgoing_headers(SPAN)["tracestate"] == "pulse=" + SPAN


def test_up_to_32_members_are_accepted():
    members = ["k%d=%d" % (i, i) for i in range(32)]
    headers = out(VALID, ",".join(members))
    assert headers["tracestate"].startswith("pulse=%s,k0=0,k1=1," % SPAN)


def test_33_members_make_the_header_invalid():
    members = ["k%d=%d" % (i, i) for i in range(33)]
    assert out(VALID, ",".join(members))["tracestate"] == "pulse=" + SPAN


def test_empty_members_do_not_count_towards_the_32():
    members = ["k%d=%d" % (i, i) for i in range(32)]
    headers = out(VALID, ",,".join(members))
    assert "k30=30" in headers["tracestate"]


def test_a_repeated_key_keeps_its_left_most_member():
    """Level 2 3.3.1.5: receivers MAY drop duplicates added by others (they are not made
    invalid: Level 2's test suite accepts either keeping or dropping them)."""
    headers = out(VALID, "rojo=1,congo=2,rojo=3")
    assert headers["tracestate"] == "pulse=%s,rojo=1,congo=2" % SPAN


# -- tracestate: keys (3.3.1.3.1) -----------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "rojo",
        "a",
        "0",  # Level 2: a key may start with a digit
        "my-tracing_system*/v2",
        "z" * 256,
        "fw529a3039@dt",  # tenant@system
        "1tenant@system",
        "t" * 241 + "@" + "v" * 14,  # Level 1's tenant and system limits
        "t" * 242 + "@v",  # Level 2 lifted them: only the 256 in total remain
        "t@" + "v" * 15,
        "foo@",
        "foo@@bar",
    ],
)
def test_keys_of_the_grammar_are_accepted(key):
    headers = out(VALID, "%s=1,congo=2" % key)
    assert headers["tracestate"] == "pulse=%s,%s=1,congo=2" % (SPAN, key)


@pytest.mark.parametrize(
    "key",
    [
        "z" * 257,
        "@vendor",
        "Rojo",
        "rojo.v2",
        "_rojo",
        "-rojo",
        "ro jo",
        "ro\tjo",
        "rojé",
        "",
    ],
)
def test_a_key_outside_the_grammar_makes_the_header_invalid(key):
    assert out(VALID, "congo=2,%s=1" % key)["tracestate"] == "pulse=" + SPAN


# -- tracestate: values (3.3.1.3.2) ---------------------------------------------------


def test_every_printable_character_but_comma_and_equals_is_a_valid_value():
    printable = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ",=")
    for value in (printable, " leading", "a b", "x" * 256):
        assert out(VALID, "rojo=" + value)["tracestate"] == "pulse=%s,rojo=%s" % (SPAN, value)


@pytest.mark.parametrize(
    "value",
    ["", "x" * 257, "a=b", "a\tb", "a\x7fb", "a\x1fb", "caf\xe9", "a\nb"],
)
def test_a_value_outside_the_grammar_makes_the_header_invalid(value):
    assert out(VALID, "congo=2,rojo=" + value)["tracestate"] == "pulse=" + SPAN


def test_trailing_spaces_are_optional_whitespace_and_leading_spaces_are_kept():
    headers = out(VALID, "rojo=  1  ,congo=2")
    assert headers["tracestate"] == "pulse=%s,rojo=  1,congo=2" % SPAN


# -- tracestate: mutations (3.5) and limits (3.3.1.5) ---------------------------------


def test_our_entry_carries_the_outgoing_span_id():
    assert Transaction("t").outgoing_headers(SPAN)["tracestate"] == "pulse=" + SPAN


def test_our_earlier_entry_is_replaced_and_moved_to_the_front():
    headers = out(VALID, "rojo=1,pulse=%s,congo=2" % PARENT)
    assert headers["tracestate"] == "pulse=%s,rojo=1,congo=2" % SPAN


def test_with_32_members_in_ours_pushes_the_right_most_out():
    members = ["k%d=%d" % (i, i) for i in range(32)]
    headers = out(VALID, ",".join(members))
    assert headers["tracestate"] == ",".join(["pulse=" + SPAN] + members[:31])


def test_a_tracestate_within_512_characters_is_sent_whole():
    members = ["k%d=%s" % (i, "v" * 100) for i in range(4)]  # 4 x 105 + ours + commas
    headers = out(VALID, ",".join(members))
    assert headers["tracestate"] == ",".join(["pulse=" + SPAN] + members)
    assert len(headers["tracestate"]) <= 512


def test_too_long_members_over_128_characters_go_first_from_the_right():
    long1, long2 = "long1=" + "a" * 130, "long2=" + "b" * 130
    short = ["s%d=%s" % (i, "c" * 60) for i in range(4)]  # 4 x 63
    members = [short[0], long1, short[1], long2, short[2], short[3]]
    headers = out(VALID, ",".join(members))
    assert headers["tracestate"] == ",".join(["pulse=" + SPAN, short[0], long1, short[1], short[2], short[3]])
    assert len(headers["tracestate"]) <= 512


def test_then_members_go_from_the_right():
    members = ["k%d=%s" % (i, "v" * 60) for i in range(10)]  # 63 each
    headers = out(VALID, ",".join(members))
    assert headers["tracestate"] == ",".join(["pulse=" + SPAN] + members[:7])


def test_fit_keeps_what_fits_exactly():
    members = ["a" * 100, "b" * 200, "c" * 99]
    assert fit(members, 31, 401) == members
    assert fit(members, 31, 400) == ["a" * 100, "c" * 99]
    assert fit(members, 2, 1000) == ["a" * 100, "b" * 200]


# -- repeated header lines (3.3.1.2, RFC 9110 5.3) -------------------------------------


def asgi_outgoing(headers):
    txn = asgi.begin({"type": "http", "method": "GET", "path": "/", "headers": headers})
    reset_current(txn.token)
    return txn.outgoing_headers(SPAN)


def test_asgi_combines_repeated_tracestate_lines_in_order():
    headers = asgi_outgoing([
        (b"tracestate", b"rojo=1,congo=2"),
        (b"traceparent", VALID.encode()),
        (b"tracestate", b""),
        (b"tracestate", b"a=3"),
    ])
    assert headers["tracestate"] == "pulse=%s,rojo=1,congo=2,a=3" % SPAN


def test_asgi_restarts_the_trace_on_two_traceparent_lines():
    other = "00-%s-%s-01" % ("1" * 32, "2" * 16)
    assert_restarted(asgi_outgoing([
        (b"traceparent", VALID.encode()), (b"traceparent", other.encode()), (b"tracestate", b"rojo=1"),
    ]))
