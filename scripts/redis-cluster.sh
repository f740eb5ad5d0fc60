#!/usr/bin/env bash
# A local Redis Cluster of three masters and three replicas, from the machine's own
# redis-server, on loopback ports in a directory of its own. It never touches the Redis
# on 6379.
#
#   scripts/redis-cluster.sh start   start it (or say it is up) and print its REDIS_URL
#   scripts/redis-cluster.sh url     print the REDIS_URL of the cluster
#   scripts/redis-cluster.sh stop    stop its nodes and remove its directory (kept with
#                                    REDIS_CLUSTER_KEEP=yes: a start then brings it back)
#   scripts/redis-cluster.sh status  CLUSTER INFO of the first node
#
# REDIS_CLUSTER_PORT (7000): the first node's port; the nodes use it and the next five,
# their cluster bus the same ports + 10000. REDIS_CLUSTER_DIR (/tmp/vestio-redis-cluster-
# <port>): node files and logs. Nodes run with `enable-debug-command local` (fault tests)
# and no persistence, as the single test Redis; REDIS_CLUSTER_AOF=yes gives each node an
# append-only file (`make run REDIS=cluster`).
set -euo pipefail

base="${REDIS_CLUSTER_PORT:-7000}"
dir="${REDIS_CLUSTER_DIR:-/tmp/vestio-redis-cluster-$base}"
ports=()
for i in 0 1 2 3 4 5; do ports+=("$((base + i))"); done

url() {
  local list
  list="$(printf '127.0.0.1:%s,' "${ports[@]}")"
  echo "redis-cluster://${list%,}"
}

cli() { local port="$1"; shift; redis-cli -h 127.0.0.1 -p "$port" "$@"; }

healthy() {
  # Every node answers and says the cluster is ok with all 16384 slots served.
  local p
  for p in "${ports[@]}"; do
    cli "$p" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok$' || return 1
    cli "$p" cluster info 2>/dev/null | tr -d '\r' | grep -q '^cluster_slots_ok:16384$' || return 1
  done
}

start() {
  command -v redis-server >/dev/null || { echo "redis-server is missing (apt-get install redis-server)" >&2; exit 1; }
  if healthy; then url; return; fi
  mkdir -p "$dir"
  local p fresh=no
  for p in "${ports[@]}"; do
    if cli "$p" ping >/dev/null 2>&1; then continue; fi
    mkdir -p "$dir/$p"
    redis-server --bind 127.0.0.1 --port "$p" --daemonize yes \
      --dir "$dir/$p" --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --save "" --appendonly "${REDIS_CLUSTER_AOF:-no}" --enable-debug-command local >/dev/null
    fresh=yes
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 100); do cli "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
    cli "$p" ping >/dev/null || { echo "node $p did not start (see $dir/$p/redis.log)" >&2; exit 1; }
  done
  # A node that knows only itself (a new one) has to be joined into a cluster.
  local known
  known="$(cli "${ports[0]}" cluster info | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')"
  if [ "$fresh" = yes ] && [ "${known:-1}" = 1 ]; then
    local nodes=()
    for p in "${ports[@]}"; do nodes+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 \
      || { cat "$dir/create.log" >&2; exit 1; }
  fi
  for _ in $(seq 1 200); do healthy && break; sleep 0.1; done
  healthy || { echo "the cluster did not become healthy (see $dir)" >&2; exit 1; }
  # Replicas attached and in sync, so a failover test starts from a full copy.
  for _ in $(seq 1 200); do
    local synced=0
    for p in "${ports[@]}"; do
      if cli "$p" info replication | tr -d '\r' | grep -q '^master_link_status:up$'; then
        synced=$((synced + 1))
      fi
    done
    [ "$synced" -ge 3 ] && break
    sleep 0.1
  done
  url
}

stop() {
  local p
  for p in "${ports[@]}"; do
    cli "$p" shutdown >/dev/null 2>&1 || true
  done
  [ "${REDIS_CLUSTER_KEEP:-no}" = yes ] || rm -rf "$dir"
}

case "${1:-start}" in
  start) start ;;
  url) url ;;
  stop) stop ;;
  status) cli "${ports[0]}" cluster info ;;
  *) echo "usage: $0 start|url|stop|status" >&2; exit 2 ;;
esac
