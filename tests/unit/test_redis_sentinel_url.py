"""REDIS_URL for a Sentinel-watched Redis: parsing and the settings' readable errors."""

from __future__ import annotations

import pytest

from src.infrastructure.redis_sentinel import SentinelTarget, SentinelUrlError, is_sentinel_url, parse_sentinel_url
from src.infrastructure.settings import ConfigError, load_settings

BASE = {"APP_ENV": "test", "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789"}


def test_several_sentinels_a_service_a_database_and_credentials() -> None:
    target = parse_sentinel_url("redis+sentinel://app:p%40ss@s1:26380,s2,10.0.0.3:26381/parley/2")
    assert target == SentinelTarget(
        sentinels=(("s1", 26380), ("s2", 26379), ("10.0.0.3", 26381)),
        service="parley",
        db=2,
        username="app",
        password="p@ss",
        ssl=False,
    )


def test_the_tls_scheme_and_the_defaults() -> None:
    target = parse_sentinel_url("rediss+sentinel://:secret@sentinel/mymaster")
    assert target.ssl
    assert target.db == 0
    assert target.username is None
    assert target.password == "secret"
    assert target.sentinels == (("sentinel", 26379),)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel://s1:26379", "must name the Sentinel service"),
        ("redis+sentinel://s1:port/parley", "not a number"),
        ("redis+sentinel://s1/parley/zero", "/<service>/<db number>"),
        ("redis+sentinel://,s2/parley", "empty Sentinel host"),
    ],
)
def test_bad_urls_say_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(SentinelUrlError, match=problem):
        parse_sentinel_url(url)
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_settings({**BASE, "REDIS_URL": url}, env_file=None)


def test_settings_accept_sentinel_and_plain_urls_alike() -> None:
    sentinel = "redis+sentinel://s1:26379,s2:26379/parley/0"
    assert is_sentinel_url(sentinel)
    assert load_settings({**BASE, "REDIS_URL": sentinel}, env_file=None).redis.url == sentinel
    assert not is_sentinel_url("redis://localhost:6379/0")
    assert load_settings({**BASE, "REDIS_URL": "redis://localhost:6379/0"}, env_file=None).redis.url
    masked = load_settings({**BASE, "REDIS_URL": "redis+sentinel://:hunter2@s1/parley"}, env_file=None).masked()
    assert "hunter2" not in masked["REDIS_URL"]
