"""plugin.netpolicy and plugin.outbound: the rules for calling a URL someone else chose."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from plugin import outbound
from plugin.netpolicy import UrlRefused, check_url
from tests.security import servers

STRICT = {"allow_loopback": False, "allow_private": False}


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://127.0.0.1/", "loopback address refused"),
        ("http://localhost:8000/graphql/", "loopback address refused"),
        ("http://0.0.0.0/", "loopback address refused"),
        ("http://[::1]/", "loopback address refused"),
        ("http://[::ffff:127.0.0.1]/", "loopback address refused"),
        ("http://10.0.0.1/", "private address refused"),
        ("http://192.168.1.1/", "private address refused"),
        ("http://169.254.169.254/latest/meta-data/", "private address refused"),
        ("http://100.64.0.1/", "private address refused"),
        ("http://[fe80::1]/", "private address refused"),
        ("http://224.0.0.1/", "reserved address refused"),
        ("https://user:pw@example.com/", "user-info in URL"),
        ("https://example.com\\@127.0.0.1/", "backslash in URL"),
        ("https://exa mple.com/", "whitespace or control character in URL"),
        ("https://example.com/\x00", "whitespace or control character in URL"),
        ("https://example.com/#frag", "fragment in URL"),
        ("ftp://example.com/", "scheme must be http or https"),
        ("https://example.com:99999/", "invalid port"),
        ("https://ex_ample.com/", "host is not a DNS name or an IP address"),
    ],
)
def test_check_url_refuses_with_a_reason(url, reason):
    with pytest.raises(UrlRefused) as refused:
        check_url(url, **STRICT)
    assert refused.value.reason == reason


def test_check_url_allows_what_the_caller_allows_and_public_addresses():
    check_url("http://127.0.0.1:8000/graphql/", allow_loopback=True, allow_private=False)
    check_url("http://10.0.0.1/", allow_loopback=False, allow_private=True)
    check_url("https://93.184.215.14/graphql/", **STRICT)


def test_the_address_a_connection_reaches_is_checked_again():
    session = outbound.guarded_session(max_bytes=1024, address_policy=STRICT)
    with servers.HostileServer({("GET", "/"): servers.app_id}) as target:
        with pytest.raises(outbound.AddressRefused):
            session.get(f"http://localhost:{target.port}/", timeout=5)
    assert target.requests == []


def test_the_deadline_covers_a_whole_block_of_calls():
    session = outbound.guarded_session(max_bytes=10_000_000)
    with servers.HostileServer({("GET", "/"): servers.drip(seconds=20, every=0.1)}) as trickle:
        with outbound.deadline(0.5), pytest.raises(requests.Timeout):
            session.get(trickle.url + "/", timeout=30)


def test_calls_share_one_deadline_thread_and_still_end_on_time(monkeypatch):
    def answer(handler, server):
        server.send(handler, 200, b"{}", {"Connection": "close"})

    session = outbound.guarded_session(max_bytes=10_000_000)
    with servers.HostileServer({("GET", "/"): answer}) as fast:
        session.get(fast.url + "/", timeout=5)
        started = []
        start = threading.Thread.start
        monkeypatch.setattr(threading.Thread, "start", lambda thread: started.append(thread) or start(thread))
        for _ in range(50):
            assert session.get(fast.url + "/", timeout=5).status_code == 200
        monkeypatch.undo()
    assert [t for t in started if "process_request_thread" not in t.name] == [], "a thread per call"
    with servers.HostileServer({("GET", "/"): servers.drip(seconds=20, every=0.1)}) as trickle:
        began = time.monotonic()
        with pytest.raises(outbound.DeadlineExceeded):
            session.get(trickle.url + "/", timeout=0.5)
        assert time.monotonic() - began < 5
