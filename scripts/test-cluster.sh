#!/usr/bin/env bash
# `make test-cluster`: the test suite again, with REDIS_URL naming a local Redis Cluster
# (three primaries, three replicas; scripts/redis-cluster.sh) instead of one Redis: every
# Redis-facing test (queue, outbox/inbox, cache, pub/sub, rate limits, the token
# blacklist, each service's flows, the gateway's end-to-end flow) runs against it. The
# cluster is stopped afterwards. REDIS_CLUSTER_PORT (7000) moves its six ports.
set -euo pipefail
cd "$(dirname "$0")/.."
export REDIS_CLUSTER_DIR="${REDIS_CLUSTER_DIR:-$(mktemp -d /tmp/vestio-test-cluster.XXXXXX)}"
trap 'bash scripts/redis-cluster.sh stop' EXIT
REDIS_URL="$(bash scripts/redis-cluster.sh start)"
export REDIS_URL
echo "Redis Cluster for the tests: $REDIS_URL"
# The failover test starts a cluster of its own and the stack's fault test a Redis of its
# own (both already ran in make test).
"${CARGO:-cargo}" nextest run --workspace --locked --no-tests=fail \
  -E 'not test(killing_the_primary_of_a_queue_loses_and_doubles_no_event) and not test(every_service_serves_again_after_a_redis_restart_and_ended_database_sessions)' "$@"
