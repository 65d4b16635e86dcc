"""A discrete-event model of benchmarks/fleet.py, to try 429 policies in seconds.

    uv run python benchmarks/fleet_model.py [--seeds 5] [--agents 200]

fleet.py takes ten minutes a run; this model takes a second. It plays the same fleet (200
tills x 100 events, 4 workers, a 5 s tick at a random phase, 5 s passes) against the
stand-in's sliding one-second window of 50 admitted requests, with a fixed round-trip time,
and prints per policy and round-trip time the worst peak rate after 10 s and the worst
drain over the seeds.

What it showed. The peak is the admitted 50 plus the 429s of that second, so it is set by
how many requests the crowd fires into a full window. The policy before this one (hold up
to 60 s, then one probing pass, then all workers) let each returning till fire as fast as
its round trips allowed: every second a few tills filled the window and the rest drew 429s
(model: peak 64-68/s, drain 1.5-1.6 x; measured 62-65/s, 1.48-1.82 x). Holds that grew
while a till got nothing through cut the peak but left tills asleep when the crowd thinned
(drain past 1.5 x).
Taking turns works: a till back from its hold sends one request a second, its gaps kept,
so the ~50 tills that got in fill the window exactly and keep their places, the others'
single tries draw most of the 429s, and a 120 s spread keeps those few. Doubling the rate
every 20 s without a 429 lets the last tills take the room the drained ones leave (model:
59-61/s, 1.25-1.39 x; measured 57-59/s, 1.26-1.28 x).
"""

from __future__ import annotations

import argparse
import collections
import heapq
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Policy:
    spread: float  # a 429 holds the till uniform(0, spread) s (at least Retry-After)
    start_rate: float  # requests/s after the hold (inf: one worker, back to back)
    doubling: float  # the rate doubles after this long without a 429
    share: float = 0.0  # a free till's hold is spread / (1 + share * sent before the 429)
    slack: float = 1.05  # gaps of slack / rate
    free_rate: float = 16.0  # from this rate on, all workers again


POLICIES = {
    # agent.delivery.backoff before: hold, one probing pass (5 s) of one worker, then free
    "before (60 s, probe)": Policy(spread=60, start_rate=math.inf, doubling=5),
    "agent": Policy(spread=120, start_rate=1, doubling=20, share=0.5),  # backoff.Hold
    "agent, 60 s spread": Policy(spread=60, start_rate=1, doubling=20, share=0.5),
    "agent, no doubling": Policy(spread=120, start_rate=1, doubling=math.inf, share=0.5),
}


class Till:
    def __init__(self, events: int, phase: float) -> None:
        self.left, self.phase = events, phase
        self.rate: float | None = None  # None: free (all workers, back to back)
        self.inflight = self.sent = 0
        self.stop = False
        self.deadline = self.until = self.since = 0.0


def simulate(policy: Policy, *, rtt: float, seed: int, agents: int = 200, events: int = 100,
             limit: int = 50, workers: int = 4, tick: float = 5.0) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(seed)
    window: collections.deque[float] = collections.deque()
    per_second: collections.Counter[int] = collections.Counter()
    heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
    order = itertools.count()
    done: list[float] = []

    def at(when: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(heap, (when, next(order), fn, args))

    def post(now: float) -> tuple[bool, float]:
        """The stand-in: admitted, or 429 with Retry-After (whole seconds until a slot)."""
        per_second[int(now)] += 1
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) < limit:
            window.append(now)
            return True, 0.0
        return False, max(1.0, math.ceil(window[0] + 1.0 - now))

    def next_tick(till: Till, now: float) -> float:
        when = till.phase + max(0, math.floor((now - till.phase) / tick) + 1) * tick
        return when if when > now else when + tick  # float rounding: never the same instant

    def hold(till: Till, now: float, retry_after: float) -> None:
        spread = policy.spread
        if till.rate is None:  # a free till's 429: its share counts
            spread /= 1 + policy.share * till.sent
        till.until = now + max(retry_after, rng.uniform(0, spread))
        till.rate, till.since = policy.start_rate, till.until
        at(next_tick(till, till.until - 1e-9), paced, till)  # the daemon syncs on its tick

    def free(now: float, till: Till) -> None:
        till.stop, till.sent, till.deadline = False, 0, now + 5.0
        for _ in range(workers):
            free_send(now, till)

    def free_send(now: float, till: Till) -> None:
        if till.stop or till.left - till.inflight <= 0 or now >= till.deadline:
            if till.inflight == 0 and till.left and not till.stop:  # deadline: again at once
                at(now if now >= till.deadline else next_tick(till, now), free, till)
            return
        till.inflight += 1
        ok, retry_after = post(now)
        at(now + rtt, free_answer, till, ok, retry_after)

    def free_answer(now: float, till: Till, ok: bool, retry_after: float) -> None:
        till.inflight -= 1
        if ok:
            till.left -= 1
            till.sent += 1
            if till.left == 0 and till.inflight == 0:
                return done.append(now)
        elif not till.stop:  # the first 429 ends the pass and holds the till
            till.stop = True
            hold(till, now, retry_after)
        free_send(now, till)

    def paced(now: float, till: Till) -> None:
        ok, retry_after = post(now)
        at(now + rtt, paced_answer, till, now, ok, retry_after)

    def paced_answer(now: float, till: Till, started: float, ok: bool, retry_after: float) -> None:
        assert till.rate is not None
        if not ok:
            return hold(till, now, retry_after)
        till.left -= 1
        if till.left == 0:
            return done.append(now)
        if now - till.since >= policy.doubling:
            till.rate, till.since = till.rate * 2, now
            if till.rate >= policy.free_rate:
                till.rate = None
                return at(now, free, till)
        at(max(now, started + policy.slack / till.rate), paced, till)

    for _ in range(agents):
        at(0.0, free, Till(events, rng.uniform(0, tick)))  # the outage ends at t=0
    while heap:
        now, _, fn, args = heapq.heappop(heap)
        fn(now, *args)
    drain = max(done)
    after = [per_second[s] for s in range(10, int(drain))]
    return {"peak": max(after), "drain": drain / (agents * events / limit)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--agents", type=int, default=200)
    args = parser.parse_args()
    print(f"{args.agents} tills x 100 events against 50 req/s; worst of {args.seeds} seeds")
    print("policy                 rtt    peak after 10 s    drain (x ideal)")
    for rtt in (0.005, 0.02, 0.04):
        for name, policy in POLICIES.items():
            seeds = range(1, args.seeds + 1)
            runs = [simulate(policy, rtt=rtt, seed=s, agents=args.agents) for s in seeds]
            peak = max(r["peak"] for r in runs)
            drain = max(r["drain"] for r in runs)
            print(f"{name:21} {rtt * 1000:4.0f} ms  {peak:4}/s ({peak / 50:.2f} x)     {drain:.2f}")


if __name__ == "__main__":
    main()
