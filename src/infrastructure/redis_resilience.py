"""How Parley's Redis connections survive Redis restarting under them.

After a restart every pooled socket is dead, and each fails once when it is next used. Counted as
Redis failures, those stale sockets opened the shared breaker (limits went per-process, readiness
said Redis was down) long after Redis answered again, one stale socket per half-open probe. So:

- a command that fails with a connection error is retried once, after a short jittered backoff, on
  a fresh connection (redis-py drops the dead socket and reconnects); only an operation that fails
  again counts as a failure for the breaker;
- a connection idle for more than ``REDIS_HEALTH_CHECK_SECONDS`` is PINGed before it is reused (and
  reconnected under the same retry when the PING fails).

Timeouts are not retried: a stalled Redis must cost one timeout, not two (callers bound each whole
operation anyway).
"""

from __future__ import annotations

from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

#: Idle connections older than this are checked with a PING before reuse.
REDIS_HEALTH_CHECK_SECONDS = 5
#: One retry: enough to replace a dead socket; a second failure means Redis is really away.
RECONNECT_RETRIES = 1


def reconnect_retry(timeout: float) -> Retry:
    """Retry a connection error once, on a fresh connection, well within ``timeout``."""
    # The backoff stays a small fraction of the operation's time limit, jittered so that many
    # callers meeting dead sockets together do not reconnect in lockstep.
    backoff = ExponentialWithJitterBackoff(cap=timeout / 4, base=timeout / 50)
    return Retry(backoff, RECONNECT_RETRIES, supported_errors=(RedisConnectionError,))
