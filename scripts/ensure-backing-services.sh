#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis the tests use answer; starts them with the machine's
# own commands when they do not. Used by `make test` and .ci/run.
set -euo pipefail

redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
pg_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
redis_hostport="${redis_url#*://}"; redis_hostport="${redis_hostport%%,*}"; redis_hostport="${redis_hostport##*@}"; redis_hostport="${redis_hostport%%/*}"
redis_host="${redis_hostport%%:*}"; redis_port="${redis_hostport##*:}"
[ "$redis_port" = "$redis_host" ] && redis_port=6379

need() { command -v "$1" >/dev/null 2>&1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif need sudo; then sudo "$@"; else return 1; fi; }

if ! need redis-server || ! need redis-cli; then
  echo "redis-server is missing: installing it with apt-get" >&2
  as_root apt-get update -qq && as_root apt-get install -y -qq redis-server >/dev/null \
    || { echo "install Redis: sudo apt-get install -y redis-server" >&2; exit 1; }
fi

case "$redis_url" in
  redis-cluster://*)
    # A cluster URL: the local cluster of scripts/redis-cluster.sh (started if it is down).
    REDIS_CLUSTER_PORT="$redis_port" bash "$(dirname "$0")/redis-cluster.sh" start >/dev/null ;;
  *)
if ! redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1; then
  echo "Redis does not answer on $redis_host:$redis_port: starting a local redis-server" >&2
  mkdir -p /tmp/vestio-test-redis
  redis-server --daemonize yes --bind "$redis_host" --port "$redis_port" --save "" \
    --appendonly no --dir /tmp/vestio-test-redis --logfile /tmp/vestio-test-redis/redis.log
  for _ in $(seq 1 50); do redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h "$redis_host" -p "$redis_port" ping >/dev/null ;;
esac

# A fresh Debian machine has no PostgreSQL: install the distribution's server, and let
# loopback connections in without a password (the tests' default URL names no password).
# Only a server installed here is reconfigured; an existing one is only started.
pg_answers() { need pg_isready && pg_isready -d "$pg_url" -q 2>/dev/null; }
installed_pg=no
if ! pg_answers && ! ls /etc/postgresql/*/main/pg_hba.conf >/dev/null 2>&1; then
  echo "PostgreSQL is missing: installing it with apt-get" >&2
  as_root apt-get update -qq && as_root apt-get install -y -qq postgresql >/dev/null \
    || { echo "install PostgreSQL: sudo apt-get install -y postgresql" >&2; exit 1; }
  installed_pg=yes
fi
pg_version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
if [ "$installed_pg" = yes ]; then
  hba="/etc/postgresql/$pg_version/main/pg_hba.conf"
  echo "trusting loopback connections in $hba (a test machine's server)" >&2
  as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" main restart || true
fi

if ! pg_answers && [ -n "$pg_version" ]; then
  echo "PostgreSQL does not answer ($pg_url): trying to start the local cluster" >&2
  as_root pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start || true
  for _ in $(seq 1 100); do pg_isready -d "$pg_url" -q 2>/dev/null && break; sleep 0.1; done
fi
pg_isready -d "$pg_url" -q || { echo "PostgreSQL is not reachable at $pg_url (set TEST_DATABASE_URL)" >&2; exit 1; }
echo "backing services: Redis $redis_host:$redis_port and PostgreSQL answer"
