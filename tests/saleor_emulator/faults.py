"""Fault injection for the emulator's GraphQL endpoint (``POST /graphql/``).

Faults are decided when a request arrives, before it is parsed or recorded as executed:

* ``fail_next(n, status=500)``: the next ``n`` calls answer ``status`` with a short non-GraphQL
  body (what a proxy / crashed worker returns), without executing anything.
* ``timeout_next(n, seconds)``: the next ``n`` calls sleep ``seconds`` first, then execute
  normally (so a client with a shorter read timeout gives up while the mutation still happens,
  exactly the dangerous case in production).
* ``latency``: seconds added to every call.
* ``failure_rate`` / ``timeout_rate`` (+ ``timeout_seconds``): random faults drawn from a
  ``random.Random(seed)`` so drills are reproducible; ``reseed(seed)`` restarts the sequence.
* ``reset()`` clears everything (including counters).

``counters`` holds how many of each fault were injected (``failed``, ``timed_out``, ``delayed``).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass


@dataclass
class FaultDecision:
    fail_status: int | None = None
    sleep: float = 0.0


class FaultInjector:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._fail_queue: list[int] = []
            self._timeout_queue: list[float] = []
            self.latency = 0.0
            self.failure_rate = 0.0
            self.failure_status = 500
            self.timeout_rate = 0.0
            self.timeout_seconds = 5.0
            self.rng = random.Random(self.seed)
            self.counters: Counter[str] = Counter()

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self.rng = random.Random(seed)

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        with self._lock:
            self._fail_queue.extend([status] * n)

    def timeout_next(self, n: int = 1, seconds: float = 5.0) -> None:
        with self._lock:
            self._timeout_queue.extend([seconds] * n)

    @property
    def pending(self) -> dict[str, int]:
        with self._lock:
            return {"fail": len(self._fail_queue), "timeout": len(self._timeout_queue)}

    def decide(self) -> FaultDecision:
        """Called once per GraphQL HTTP request."""
        with self._lock:
            decision = FaultDecision(sleep=self.latency)
            if self.latency:
                self.counters["delayed"] += 1
            if self._fail_queue:
                decision.fail_status = self._fail_queue.pop(0)
            elif self._timeout_queue:
                decision.sleep += self._timeout_queue.pop(0)
                self.counters["timed_out"] += 1
            else:
                # Always draw both numbers so the sequence does not depend on which rates are set.
                r_fail, r_timeout = self.rng.random(), self.rng.random()
                if self.failure_rate and r_fail < self.failure_rate:
                    decision.fail_status = self.failure_status
                elif self.timeout_rate and r_timeout < self.timeout_rate:
                    decision.sleep += self.timeout_seconds
                    self.counters["timed_out"] += 1
            if decision.fail_status is not None:
                self.counters["failed"] += 1
            return decision
