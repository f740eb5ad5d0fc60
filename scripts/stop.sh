#!/usr/bin/env bash
# `make stop`: stops what `make run` started (its pid files), nothing else.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
shopt -s nullglob
files=("$RUN_DIR"/*.pid)
[ ${#files[@]} -gt 0 ] || { say "Nothing started by make run is running."; exit 0; }
# The make-run script itself handles the order; signal its children the same way.
for name in $(services | cut -d' ' -f1) gateway redis; do
  f="$RUN_DIR/$name.pid"
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 250); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    say "stopped $name (pid $pid)"
  fi
  rm -f "$f"
done
