#!/usr/bin/env bash
# `make stop`: stops what `make run` started (its pid files), nothing else.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
shopt -s nullglob

# stop_pid NAME PID: TERM, then wait up to 25 s for it to go.
stop_pid() {
  local name=$1 pid=$2
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid"
  for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  say "stopped $name (pid $pid)"
}

files=("$RUN_DIR"/*.pid)
[ ${#files[@]} -gt 0 ] || { say "Nothing started by make run is running."; exit 0; }
# The make-run script stops its supervised processes in order (services, gateway, Redis)
# and starts none again.
if [ -f "$RUN_DIR/stack.pid" ]; then
  stop_pid "the stack" "$(cat "$RUN_DIR/stack.pid")"
  rm -f "$RUN_DIR/stack.pid"
fi
# Whatever is left (a make run that was killed -9): the same order, one by one, each
# supervisor first (it stops its process and starts none again), then the process.
for name in $(services | cut -d' ' -f1) sandbox-provider gateway traces redis; do
  f="$RUN_DIR/$name.supervisor"
  if [ -f "$f" ]; then stop_pid "$name's supervisor" "$(cat "$f")"; rm -f "$f"; fi
  f="$RUN_DIR/$name.pid"
  if [ -f "$f" ]; then stop_pid "$name" "$(cat "$f")"; rm -f "$f"; fi
done
