#!/usr/bin/env bash
# `make trace`: the traces `make run` received (crates/traces). ID=<trace id> prints that
# trace as a tree; otherwise the last N (3) traces, of ROUTE if given (a part of the
# route, e.g. ROUTE=offers); LIST=1 prints one line per trace instead of trees.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

if [ -x "$BIN_DIR/traces" ]; then
  traces=("$BIN_DIR/traces")
else
  traces=(cargo run --release --locked --quiet -p traces --)
fi
export TRACES_DIR
if [ -n "${ID:-}" ]; then
  exec "${traces[@]}" show "$ID"
fi
args=(last -n "${N:-3}")
if [ -n "${ROUTE:-}" ]; then args+=(--route "$ROUTE"); fi
if [ -n "${LIST:-}" ]; then args+=(--list); fi
exec "${traces[@]}" "${args[@]}"
