# Shared helpers of the local-stack scripts (sourced, not run).
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# shellcheck shell=bash

ROOT=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
DATA_DIR=${DATA_DIR:-$ROOT/data}
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
GATEWAY_PORT=${GATEWAY_PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6380}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN_DIR="$CARGO_TARGET_DIR/release"

# The services that exist in this checkout, in the gateway list's order, as "name port".
services() {
  grep -vE '^\s*(#|$)' "$ROOT/deploy/gateway/services.tsv" | while read -r name port _; do
    [ -d "$ROOT/services/$name" ] && echo "$name $port"
  done
}

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# http_status PORT PATH: the HTTP status of GET PATH on 127.0.0.1:PORT (000 if none).
http_status() {
  local port=$1 path=$2 line
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || { echo 000; return; }
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
  read -r -t 5 line <&3 || line=""
  exec 3<&-
  line=${line#HTTP/* }
  echo "${line%% *}"
}

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
