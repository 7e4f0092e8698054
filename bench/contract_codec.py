"""The contract's hot path, in process: what ingest does to each accepted payload (schema
decode, sketch check, queued pack) and what a worker does to each entry (unpack), for one
realistic harvest built like bench/loadgen.py's. Prints microseconds per payload.

    .venv/bin/python bench/contract_codec.py [--loops 1000]

Instruction counts, steadier than time on a busy machine: run one step under callgrind
at two loop counts and divide the difference by the difference of the counts::

    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/contract_codec.py --only check --loops 100   # and --loops 600
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # ahead of bench/ (loadgen)

import loadgen  # noqa: E402
import msgspec  # noqa: E402

from contract import queued  # noqa: E402
from contract.schema import decode_payload  # noqa: E402


def check_and_pack(raw):
    payload = decode_payload(raw)
    return queued.pack(payload, queued.check_sketches(payload.metrics))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loops", type=int, default=1000)
    ap.add_argument("--only", choices=["check", "decode"], help="run only this step, untimed (for callgrind)")
    args = ap.parse_args()
    raw = msgspec.json.encode(loadgen.Process("shop", 1).payload())
    body = check_and_pack(raw)
    steps = {"check": (check_and_pack, raw), "decode": (queued.unpack, body)}
    if args.only:
        fn, arg = steps[args.only]
        for _ in range(args.loops):
            fn(arg)
        return
    print(f"payload: {len(raw)} bytes of JSON, {len(body)} bytes queued")
    for name, (fn, arg) in steps.items():
        best = float("inf")
        for _ in range(7):
            t = time.perf_counter()
            for _ in range(args.loops):
                fn(arg)
            best = min(best, (time.perf_counter() - t) / args.loops)
        print(f"{name}: {best * 1e6:.1f} us per payload (best of 7 x {args.loops})")


if __name__ == "__main__":
    main()
