"""Traffic for the demo shop: a load that rises and falls, bursts, slow requests and errors.

    python deploy/demo/traffic.py --target http://127.0.0.1:8001 [--pulse http://127.0.0.1:8000]

Standard library only. The rate follows a 4-minute wave between --min-rps and --max-rps,
with a burst of triple load now and then; about 4 % of requests ask to be slow and about
2 % to fail (see demoshop/views.py), and every third minute or so a "bad spell" makes
checkouts slow for 20 seconds, the kind of thing an alert should catch.
"""

import argparse
import math
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

PAGES = [("/", 30), ("/items/{id}/", 40), ("/search/?q=Item+{id}", 10), ("/checkout/", 20)]


def pick_path(bad_spell):
    paths, weights = zip(*PAGES)
    path = random.choices(paths, weights)[0].format(id=random.randint(1, 230))  # some ids 404
    r = random.random()
    if r < 0.02:
        path += ("&" if "?" in path else "?") + "fail=1"
    elif r < 0.06 or (bad_spell and path.startswith("/checkout")):
        path += ("&" if "?" in path else "?") + "slow=1"
    return path


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, outcome):
        with self.lock:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1

    def take(self):
        with self.lock:
            counts, self.counts = self.counts, {}
        return counts


def hit(url, stats):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            stats.add(str(response.status))
    except urllib.error.HTTPError as exc:
        stats.add(str(exc.code))
    except OSError:
        stats.add("down")


def wait_until_up(target):
    while True:
        try:
            urllib.request.urlopen(target + "/", timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", default="http://127.0.0.1:8001")
    parser.add_argument("--pulse", default="", help="Pulse's URL, repeated in the status lines")
    parser.add_argument("--login", default="", help="the demo login, repeated every minute")
    parser.add_argument("--min-rps", type=float, default=4.0)
    parser.add_argument("--max-rps", type=float, default=25.0)
    args = parser.parse_args()
    target = args.target.rstrip("/")
    print(f"waiting for the demo shop at {target} ...", flush=True)
    wait_until_up(target)
    stats = Stats()
    pool = ThreadPoolExecutor(max_workers=16)
    started = time.monotonic()
    next_report = started + 10
    next_login = started
    burst_until = bad_until = 0.0
    while True:
        now = time.monotonic()
        wave = (math.sin((now - started) / 240 * 2 * math.pi - math.pi / 2) + 1) / 2
        rate = args.min_rps + (args.max_rps - args.min_rps) * wave
        if now > burst_until and random.random() < 0.002:
            burst_until = now + random.uniform(5, 15)
        if now > bad_until and random.random() < 0.0005:
            bad_until = now + 20
        if now < burst_until:
            rate *= 3
        pool.submit(hit, target + pick_path(now < bad_until), stats)
        if now >= next_report:
            counts = stats.take()
            summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "no answers yet"
            print(f"~{rate:.0f} req/s target; last 10 s {summary}", flush=True)
            next_report = now + 10
        if args.login and now >= next_login:
            print(f"Pulse: {args.pulse or 'the platform'} · log in as {args.login}", flush=True)
            next_login = now + 60
        time.sleep(random.expovariate(rate))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
