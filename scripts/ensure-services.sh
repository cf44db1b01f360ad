#!/usr/bin/env bash
# Make sure the PostgreSQL and Redis servers the test suite uses are reachable.
# Starts local servers that are installed but not running; otherwise names what is missing.
set -uo pipefail

# The same URLs the tests read (tests/conftest.py), with the same defaults.
DATABASE_URL=${TEST_DATABASE_URL:-postgresql+asyncpg://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
host_port() { # url default_port -> "host port"
  python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(p.hostname or "127.0.0.1", p.port or sys.argv[2])' "$1" "$2"
}
read -r PG_HOST PG_PORT < <(host_port "$DATABASE_URL" 5432)
read -r REDIS_HOST REDIS_PORT < <(host_port "$REDIS_URL" 6379)

reachable() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_for() { # host port seconds
  for _ in $(seq 1 $(( $3 * 10 ))); do reachable "$1" "$2" && return 0; sleep 0.1; done
  return 1
}

missing=()

if reachable "$PG_HOST" "$PG_PORT"; then
  echo "services: PostgreSQL is up on $PG_HOST:$PG_PORT"
else
  echo "services: PostgreSQL is not reachable on $PG_HOST:$PG_PORT, trying to start a local server"
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>&1 | sed 's/^/  /' || true
  elif command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    data=${TMPDIR:-/tmp}/parley-test-pg
    if [ ! -f "$data/PG_VERSION" ]; then
      runner=""; [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && runner="runuser -u postgres --"
      mkdir -p "$data" && { [ -z "$runner" ] || chown postgres "$data"; }
      $runner initdb -D "$data" -U postgres --auth=trust >/dev/null
    fi
    $runner pg_ctl -D "$data" -o "-p $PG_PORT -k /tmp" -l "$data/server.log" start >/dev/null
  fi
  if wait_for "$PG_HOST" "$PG_PORT" 20; then
    echo "services: PostgreSQL started"
  else
    missing+=("PostgreSQL on $PG_HOST:$PG_PORT (install it: apt-get install postgresql, or point TEST_DATABASE_URL at a server)")
  fi
fi

if reachable "$REDIS_HOST" "$REDIS_PORT"; then
  echo "services: Redis is up on $REDIS_HOST:$REDIS_PORT"
else
  echo "services: Redis is not reachable on $REDIS_HOST:$REDIS_PORT, trying to start a local server"
  if command -v redis-server >/dev/null 2>&1; then
    redis-server --daemonize yes --bind "$REDIS_HOST" --port "$REDIS_PORT" --save "" --appendonly no \
      --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/parley-test-redis.log" >/dev/null
  fi
  if wait_for "$REDIS_HOST" "$REDIS_PORT" 10; then
    echo "services: Redis started"
  else
    missing+=("Redis on $REDIS_HOST:$REDIS_PORT (install it: apt-get install redis-server, or point TEST_REDIS_URL at a server)")
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "services: cannot run the test suite, missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 1
fi
