"""plugin.ratelimit: fixed windows, in process or shared through Redis."""
from __future__ import annotations

from plugin.ratelimit import MemoryLimiter, RedisLimiter


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_allows_up_to_the_limit_per_window():
    clock = Clock()
    limiter = MemoryLimiter(clock)
    verdicts = [limiter.hit("claim", "1.2.3.4", 3, 60) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert 1 <= verdicts[-1].retry_after <= 60
    assert limiter.hit("claim", "5.6.7.8", 3, 60).allowed, "another key has its own count"
    assert limiter.hit("other", "1.2.3.4", 3, 60).allowed, "another scope has its own count"
    clock.now += 60
    assert limiter.hit("claim", "1.2.3.4", 3, 60).allowed, "a new window starts from zero"


def test_redis_limiter_counts_across_processes(redis_url):
    clock = Clock(2_000_000.0)
    first, second = RedisLimiter(redis_url, clock=clock), RedisLimiter(redis_url, clock=clock)
    first.reset()
    assert first.hit("state", "ip", 2, 60).allowed
    assert second.hit("state", "ip", 2, 60).allowed
    assert not first.hit("state", "ip", 2, 60).allowed
    clock.now += 60
    assert second.hit("state", "ip", 2, 60).allowed
    first.reset()


def test_redis_limiter_falls_back_to_counting_locally_when_redis_is_down():
    limiter = RedisLimiter("redis://127.0.0.1:1/0", clock=Clock())
    assert [limiter.hit("s", "k", 1, 60).allowed for _ in range(2)] == [True, False]
