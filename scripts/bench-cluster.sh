#!/usr/bin/env bash
# The hot paths on one Redis and on a local Redis Cluster, in one run (docs/scaling.md):
# for each, `make run` with the same binaries, an admin, `make bench` (cached search,
# trending, listing view, notifications list, place offer, WebSocket delivery beside
# redis-benchmark GET and pgbench) and the notifications consumer's events/s
# (`notifications-events`, every user's count checked), then the stack is stopped.
#
#   scripts/bench-cluster.sh                                  # both passes (make bench-cluster)
#   PASSES=cluster BIN_DIR=... scripts/bench-cluster.sh      # one of single, cluster
#
# Environment: BIN_DIR (release binaries, loadtest among them; default and when it is
# $CARGO_TARGET_DIR/release itself, make run builds the services there first, whole-program
# optimised; a symlink to a folder built another way is used as it is), DATA_DIR
# (default a temp dir; wiped), BENCH_DURATION (10s), BENCH_INVOICES (800), INVESTORS (32),
# CONNECTIONS (32), BENCH_CLIENTS (1000), BENCH_RATE (1000), EVENTS (20000), PASSES
# ("single cluster"). The reports: $DATA_DIR/<pass>/bench.txt and events.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { printf '%s\n' "$*" >&2; }
: "${BIN_DIR:=${CARGO_TARGET_DIR:-$root/target}/release}"
if [ ! -x "$BIN_DIR/loadtest" ]; then
  say "building the load tool (release)"
  cargo build --release --locked --quiet -p loadtest
fi
DATA_DIR=${DATA_DIR:-$(mktemp -d /tmp/vestio-bench-cluster.XXXXXX)}
# (After DATA_DIR: lib.sh's defaults are make run's own folders.)
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# Progress goes to stderr: the tables are what stdout is for.
say() { printf '%s\n' "$*" >&2; }
read -r -a passes <<<"${PASSES:-single cluster}"
admin_email="bench-admin@example.com"
admin_password="bench run 2026 ok"

for pass in "${passes[@]}"; do
  dir="$DATA_DIR/$pass"
  rm -rf "$dir"
  mkdir -p "$dir"
  redis_args=()
  case $pass in
    single) run_env=() ;;
    cluster)
      run_env=(REDIS=cluster)
      redis_args=(--redis "$(bash scripts/redis-cluster.sh url)")
      ;;
    *) say "PASSES: $pass is not single or cluster"; exit 2 ;;
  esac
  say "== $pass: starting the stack (data in $dir)"
  # The WebSocket row signs up BENCH_CLIENTS users from one address: above auth's per-IP
  # limit (300 a minute), which is the point of that limit, not of this measurement.
  env "${run_env[@]}" AUTH_RATE_BURST="${AUTH_RATE_BURST:-1000000}" BIN_DIR="$BIN_DIR" DATA_DIR="$dir" bash scripts/run.sh >"$dir/run.log" 2>&1 &
  run_pid=$!
  stop() { DATA_DIR="$dir" bash scripts/stop.sh >/dev/null 2>&1 || true; wait "$run_pid" 2>/dev/null || true; }
  trap stop EXIT
  wait_running "$dir/run.log" "$run_pid" 300
  BIN_DIR="$BIN_DIR" DATA_DIR="$dir" EMAIL="$admin_email" PASSWORD="$admin_password" \
    bash scripts/create-admin.sh >/dev/null
  say "== $pass: make bench"
  DATA_DIR=$dir ADMIN_EMAIL=$admin_email ADMIN_PASSWORD=$admin_password "$BIN_DIR/loadtest" --service bench \
    --target direct --duration "${BENCH_DURATION:-10s}" --investors "${INVESTORS:-32}" \
    --connections "${CONNECTIONS:-32}" --invoices "${BENCH_INVOICES:-800}" \
    --clients "${BENCH_CLIENTS:-1000}" --rate "${BENCH_RATE:-1000}" \
    --reports-dir "$dir/reports" "${redis_args[@]}" 2>&1 | tee "$dir/bench.txt" \
    || say "== $pass: a path missed its target (the table says which); going on"
  say "== $pass: notifications-events"
  # DATA_DIR: the load tool signs the events it pushes with the stack's keys.
  DATA_DIR=$dir ADMIN_EMAIL=$admin_email ADMIN_PASSWORD=$admin_password "$BIN_DIR/loadtest" \
    --service notifications-events --target direct --events "${EVENTS:-20000}" \
    --reports-dir "$dir/reports" "${redis_args[@]}" 2>&1 | tee "$dir/events.txt"
  stop
  trap - EXIT
done
say "Reports in $DATA_DIR/<pass>/bench.txt and events.txt"
