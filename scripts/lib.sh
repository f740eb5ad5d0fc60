# Shared helpers of the local-stack scripts (sourced, not run).
# shellcheck disable=SC2034  # the variables are used by the scripts that source this file
# shellcheck shell=bash

ROOT=$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
DATA_DIR=${DATA_DIR:-$ROOT/data}
RUN_DIR="$DATA_DIR/run"
LOG_DIR="$DATA_DIR/logs"
GATEWAY_PORT=${GATEWAY_PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6380}
SANDBOX_PORT=${SANDBOX_PORT:-8090}
# The developer's trace receiver (crates/traces): on unless TRACES=off or the services
# already export to OTEL_EXPORTER_OTLP_ENDPOINT.
TRACES=${TRACES:-on}
# REDIS_ACL=on: make run's own Redis gets one user per service (common::acl) and the
# services connect as theirs; the default user may only PING.
REDIS_ACL=${REDIS_ACL:-off}
TRACES_PORT=${TRACES_PORT:-4318}
TRACES_DIR=${TRACES_DIR:-$DATA_DIR/traces}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# The service binaries make run starts; BIN_DIR=<dir> runs others (e.g. an older build kept
# for a side-by-side benchmark), and then nothing is built.
BIN_DIR=${BIN_DIR:-$CARGO_TARGET_DIR/release}

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

# wait_running LOG PID [SECONDS]: waits until make run (scripts/run.sh started in the
# background as process PID, its output in LOG) says the stack is up (it says so once the
# gateway answers). Prints LOG's tail and fails if PID ends first or after SECONDS (120).
wait_running() {
  local log=$1 pid=$2 limit=${3:-120}
  local deadline=$((SECONDS + limit))
  until grep -q 'Vestio is running' "$log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -40 "$log" >&2
      say "the stack did not start"
      return 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      tail -40 "$log" >&2
      say "the stack is not up after $limit s"
      return 1
    fi
    sleep 0.5
  done
}

# wait_for_redis PORT [PID] [SECONDS]: returns once the Redis on 127.0.0.1:PORT answers
# PING with PONG. A Redis replaying a large AOF accepts connections but answers every
# PING with LOADING until it is done, so "answers" is not "ready". Says what it waits for
# (and the load's progress every few seconds). Fails if PID (the Redis process, when we
# started it) exits, or after SECONDS (default 600) without a PONG.
wait_for_redis() {
  local port=$1 pid=${2:-} limit=${3:-600} start=$SECONDS said="" what answer next=0
  while :; do
    answer=$(redis-cli -p "$port" ping 2>&1 || true)
    if [ "$answer" = PONG ]; then
      [ -z "$said" ] || say "Redis      ready after $((SECONDS - start)) s"
      return 0
    fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      printf 'error: Redis exited while starting\n' >&2
      return 1
    fi
    case $answer in
      LOADING*) what="loading its dataset" ;;
      *) what="not answering yet" ;;
    esac
    if [ "$what" != "$said" ]; then
      say "Waiting for Redis on port $port: $what..."
      said=$what
    fi
    if [ "$what" = "loading its dataset" ] && [ $SECONDS -ge $next ]; then
      local perc eta
      perc=$(redis-cli -p "$port" info persistence 2>/dev/null | tr -d '\r' | sed -n 's/^loading_loaded_perc://p')
      eta=$(redis-cli -p "$port" info persistence 2>/dev/null | tr -d '\r' | sed -n 's/^loading_eta_seconds://p')
      [ -z "$perc" ] || say "           ${perc}% loaded, about ${eta:-?} s to go"
      next=$((SECONDS + 5))
    fi
    if [ $((SECONDS - start)) -ge "$limit" ]; then
      printf 'error: Redis on port %s is not ready after %s s (%s)\n' "$port" "$limit" "$what" >&2
      return 1
    fi
    sleep 0.2
  done
}

# supervise NAME LOG COMMAND...: runs COMMAND (its output appended to LOG) and starts it
# again whenever it exits, until this shell is sent TERM: then it stops the command (TERM,
# waiting for it to finish) and exits. Meant to run in a background subshell of make run,
# one per process of the stack: a crashed service, or a Redis that was killed, comes back
# instead of the stack going down.
#   $RUN_DIR/NAME.pid    the command's current pid (removed once stopped)
#   $RUN_DIR/NAME.exits  a line per unplanned exit: "<unix time> <status> <seconds up>"
# Each exit is also said on stdout. The pause before a restart starts at
# SUPERVISE_BACKOFF seconds (1) and doubles, up to SUPERVISE_MAX_BACKOFF (30), while the
# command keeps dying within SUPERVISE_STABLE seconds (10) of its start; after a longer
# run it is back to the first pause.
supervise() {
  local name=$1 log=$2
  shift 2
  local first=${SUPERVISE_BACKOFF:-1} max=${SUPERVISE_MAX_BACKOFF:-30} stable=${SUPERVISE_STABLE:-10}
  local pause=$first child="" began status up
  # shellcheck disable=SC2317  # invoked by the trap
  stop_supervised() {
    if [ -n "$child" ]; then
      kill -TERM "$child" 2>/dev/null || true
      wait "$child" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/$name.pid"
    exit 0
  }
  trap stop_supervised TERM
  while :; do
    began=$SECONDS
    "$@" >>"$log" 2>&1 &
    child=$!
    echo "$child" > "$RUN_DIR/$name.pid"
    status=0
    # (2>/dev/null: bash's own "Killed" notice; the line below says it.)
    wait "$child" 2>/dev/null || status=$?
    child=""
    up=$((SECONDS - began))
    echo "$(date +%s) $status $up" >> "$RUN_DIR/$name.exits"
    if [ "$up" -ge "$stable" ]; then pause=$first; fi
    say "$name exited (status $status) after ${up} s; restarting it in ${pause} s (log: $log)"
    # Waiting on a background sleep lets TERM in at once.
    sleep "$pause" &
    child=$!
    wait "$child" || true
    child=""
    pause=$((pause * 2 > max ? max : pause * 2))
  done
}
