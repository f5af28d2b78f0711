"""plugin.ratelimit: Flask-Limiter, counting in this process or, with REDIS_URL, in Redis for every process."""

from __future__ import annotations

import re

import pytest
import redis


def _portal_csrf(client) -> str:
    page = client.get("/portal/expired").get_data(as_text=True)
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)


def _ask_for_links(client, email: str, times: int) -> list[int]:
    csrf = _portal_csrf(client)
    return [client.post("/portal/link", data={"email": email, "csrf": csrf}).status_code for _ in range(times)]


def test_counts_live_in_this_process_without_redis(make_config):
    from plugin.app import create_app
    from plugin.ui import views

    app = create_app(make_config(), runner="eager")
    client = app.test_client()
    assert _ask_for_links(client, "a@example.com", views.LINK_LIMIT + 1) == [200] * views.LINK_LIMIT + [429]
    other = app.test_client()
    assert _ask_for_links(other, "a@example.com", 1) == [429], "every client of one address shares its count"
    fresh = create_app(make_config(), runner="eager").test_client()  # another process: its own memory
    assert _ask_for_links(fresh, "a@example.com", 1) == [200]


def test_with_redis_every_process_counts_together_and_keys_are_digests(make_config, redis_url):
    from plugin.app import create_app
    from plugin.ui import views

    store = redis.Redis.from_url(redis_url)
    store.flushdb()
    first = create_app(make_config(redis_url=redis_url), runner="eager").test_client()
    assert _ask_for_links(first, "Alice.Smith@example.com", views.LINK_LIMIT) == [200] * views.LINK_LIMIT
    second = create_app(make_config(redis_url=redis_url), runner="eager").test_client()
    assert _ask_for_links(second, "bob@example.com", 1) == [429], "the second app sees the first one's count"

    keys = [key.decode() for key in store.keys("*")]
    assert keys, "the counters live in Redis"
    for key in keys:
        assert "alice" not in key.lower() and "@" not in key and "127.0.0.1" not in key, key
    store.flushdb()


def test_when_redis_stops_answering_counting_goes_on_in_this_process(make_config):
    from plugin.app import create_app
    from plugin.ui import views

    client = create_app(make_config(redis_url="redis://127.0.0.1:1/0"), runner="eager").test_client()
    statuses = _ask_for_links(client, "a@example.com", views.LINK_LIMIT + 1)
    assert statuses == [200] * views.LINK_LIMIT + [429]


@pytest.mark.parametrize("limit_name, path", [("CLAIM_LIMIT", "/r/NOPE2345")])
def test_limits_are_per_client_address(make_config, limit_name, path):
    from plugin.app import create_app
    from plugin.ui import views

    client = create_app(make_config(), runner="eager").test_client()
    limit = getattr(views, limit_name)
    here = [client.post(path, environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code for _ in range(limit + 1)]
    there = client.post(path, environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code
    assert here == [404] * limit + [429]
    assert there == 404
