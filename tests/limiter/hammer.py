"""One process of the limiter's multi-process test: take ``--calls`` slots of one budget as fast
as the budget allows and print, one line per call, three times: the caller's clock just before
the take that let it go, the slot's time on the store's clock, and the caller's clock just after
(when the call would go out). With ``--backoff``
(a limiter.core.Backoff), try ``--calls`` times at once instead and print each try let through.

Run by tests/limiter/test_processes.py with the test's database (DATABASE_URL) and store
(RATE_LIMIT_URL) in its environment; a waiting taker sleeps here, since this is the caller
that a real job would be re-scheduled as.
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--rate", default="")
    parser.add_argument("--backoff", default="")
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--reserve", action="store_true")
    parser.add_argument("--start-at", type=float, required=True)
    arguments = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from limiter.core import Backoff, Rate, take, try_once

    time.sleep(max(0.0, arguments.start_at - time.time()))  # every process starts together
    if arguments.backoff:
        backoff = Backoff.parse(arguments.backoff)
        for _ in range(arguments.calls):
            if try_once(arguments.name, backoff).slot.go:
                print(f"{time.time():.6f}", flush=True)
        return
    rate = Rate.parse(arguments.rate)
    made = 0
    while made < arguments.calls:
        before = time.time()
        slot = take(arguments.name, rate, reserve=arguments.reserve)
        while not slot.go:
            time.sleep(slot.wait)
            before = time.time()
            slot = take(
                arguments.name,
                rate,
                reserve=arguments.reserve,
                reserved_at=slot.at if slot.taken else None,
            )
        print(f"{before:.6f} {slot.at:.6f} {time.time():.6f}", flush=True)
        made += 1


if __name__ == "__main__":
    main()
