#!/usr/bin/env bash
# `make run`: the whole Vestio stack on this machine, behind the gateway, until Ctrl-C.
#
# Starts its own Redis (AOF, in $DATA_DIR/redis, port $REDIS_PORT, unless REDIS_URL points
# elsewhere), builds the services in release mode, migrates and starts each one with its
# SQLite database in $DATA_DIR (or <SERVICE>_DATABASE_URL), starts nginx as the gateway on
# $GATEWAY_PORT, waits for every /readyz and prints where everything is. Each process runs
# under `supervise` (scripts/lib.sh): one that dies afterwards is started again, with a
# line saying so and a growing pause, instead of the stack going down. Ctrl-C or
# `make stop` stops what it started, and nothing else. Secrets the services need are
# made once per data directory and kept there (sandbox-webhook-secret, audit-chain-key).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

# --- what we need --------------------------------------------------------------------
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "Installing ${missing[*]} with apt-get..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    die "missing ${missing[*]}: run  sudo apt-get install -y ${missing[*]}  and then make run again"
  fi
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v cargo >/dev/null || die "cargo is missing: install Rust from https://rustup.rs (1.94 or newer)"

mkdir -p "$RUN_DIR" "$LOG_DIR"
if compgen -G "$RUN_DIR/*.pid" >/dev/null; then
  for f in "$RUN_DIR"/*.pid; do
    if kill -0 "$(cat "$f")" 2>/dev/null; then
      die "a stack started by make run is still running (pid $(cat "$f"), $(basename "$f" .pid)): make stop first"
    fi
  done
  rm -f "$RUN_DIR"/*.pid
fi
rm -f "$RUN_DIR"/*.exits "$RUN_DIR"/*.supervisor

# --- ports ---------------------------------------------------------------------------
mapfile -t SERVICES < <(services)
check_port() { port_taken "$1" && die "port $1 ($2) is already in use: stop what uses it, or set $3"; return 0; }
check_port "$GATEWAY_PORT" gateway GATEWAY_PORT
for s in "${SERVICES[@]}"; do
  read -r name port <<<"$s"
  check_port "$port" "$name" "another port in deploy/gateway/services.tsv"
done
if [ -z "${REDIS_URL:-}" ] && [ "${REDIS:-}" != cluster ]; then
  check_port "$REDIS_PORT" redis "REDIS_PORT (or REDIS_URL to use a running Redis)"
elif [ -z "${REDIS_URL:-}" ]; then
  for ((i = 0; i < 6; i++)); do
    check_port "$((${REDIS_CLUSTER_PORT:-7000} + i))" "redis cluster node" "REDIS_CLUSTER_PORT (or REDIS_URL to use a running cluster)"
  done
fi

# --- stop everything we started on exit --------------------------------------------------
# The supervisors (one per process), in start order.
SUPERVISORS=()
stopping=0
cleanup() {
  [ $stopping = 1 ] && return; stopping=1
  say ""; say "Stopping the stack..."
  # Services first (they finish in-flight requests), then the gateway, then Redis: a
  # supervisor told to stop stops its process and starts no other.
  for ((i=${#SUPERVISORS[@]}-1; i>=0; i--)); do
    kill -TERM "${SUPERVISORS[$i]}" 2>/dev/null || true
    wait "${SUPERVISORS[$i]}" 2>/dev/null || true
  done
  rm -f "$RUN_DIR"/*.pid "$RUN_DIR"/*.supervisor
  if [ "${CLUSTER_STARTED:-no}" = yes ]; then bash scripts/redis-cluster.sh stop; fi
  say "Stopped."
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# make stop signals this script, which stops the rest in order.
echo $$ > "$RUN_DIR/stack.pid"

# start NAME LOG COMMAND...: COMMAND under `supervise`; returns once its first pid is in
# $RUN_DIR/NAME.pid, and sets $pid to it.
start() {
  local name=$1
  rm -f "$RUN_DIR/$name.pid"
  supervise "$@" &
  local sup=$!
  SUPERVISORS+=("$sup")
  echo "$sup" > "$RUN_DIR/$name.supervisor"
  until [ -s "$RUN_DIR/$name.pid" ]; do
    kill -0 "$sup" 2>/dev/null || die "could not start $name"
    sleep 0.02
  done
  pid=$(cat "$RUN_DIR/$name.pid")
}
# exited NAME: whether NAME's process has exited since make run started it.
exited() { [ -s "$RUN_DIR/$1.exits" ]; }

# --- build -------------------------------------------------------------------------------
pkgs=()
for s in "${SERVICES[@]}"; do pkgs+=(-p "${s%% *}"); done
# Payments moves money through the sandbox provider (a simulated one, like a provider's
# test mode): it runs beside the services.
with_sandbox=no
for s in "${SERVICES[@]}"; do
  if [ "${s%% *}" = payments ]; then with_sandbox=yes; fi
done
if [ $with_sandbox = yes ]; then pkgs+=(-p sandbox-provider); fi
# Spans go to our own receiver (`make trace` shows them) unless told otherwise.
with_traces=no
if [ "$TRACES" != off ] && [ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
  with_traces=yes; pkgs+=(-p traces)
fi
if [ "$BIN_DIR" = "$CARGO_TARGET_DIR/release" ]; then
  say "Building ${#SERVICES[@]} service(s) in release mode (the first build takes a while)..."
  cargo build --release --locked --quiet "${pkgs[@]}"
else
  say "Using the binaries in $BIN_DIR (BIN_DIR is set: nothing is built)"
  for s in "${SERVICES[@]}"; do
    [ -x "$BIN_DIR/${s%% *}" ] || die "BIN_DIR=$BIN_DIR has no ${s%% *} binary"
  done
  [ $with_sandbox = no ] || [ -x "$BIN_DIR/sandbox-provider" ] || die "BIN_DIR=$BIN_DIR has no sandbox-provider binary"
  [ $with_traces = no ] || [ -x "$BIN_DIR/traces" ] || die "BIN_DIR=$BIN_DIR has no traces binary (or TRACES=off)"
fi

# --- Redis -----------------------------------------------------------------------------
if [ "${REDIS:-}" = cluster ] && [ -z "${REDIS_URL:-}" ]; then
  # A local Redis Cluster (three primaries, three replicas; scripts/redis-cluster.sh) with
  # an append-only file per node in $DATA_DIR/redis-cluster, stopped with the stack.
  export REDIS_CLUSTER_DIR="$DATA_DIR/redis-cluster" REDIS_CLUSTER_AOF=yes REDIS_CLUSTER_KEEP=yes
  REDIS_URL="$(bash scripts/redis-cluster.sh start)" || die "the Redis Cluster did not start: see $REDIS_CLUSTER_DIR"
  export REDIS_URL
  CLUSTER_STARTED=yes
  say "Redis      $REDIS_URL (a cluster: 3 primaries, 3 replicas, AOF in $REDIS_CLUSTER_DIR)"
elif [ -z "${REDIS_URL:-}" ]; then
  mkdir -p "$DATA_DIR/redis"
  # AOF for durability across restarts; rewritten (to an RDB base, which loads fast) once
  # it is twice its size after the last rewrite and at least 16 MB, so it tracks the data
  # instead of the history of every write (see README, "Local Redis").
  acl=()
  if [ "$REDIS_ACL" = on ]; then
    # One Redis user per service (generated from the key schema: common::acl), passwords
    # made once in $DATA_DIR/redis-users; the default user may only PING.
    "$BIN_DIR/auth" redis-acl --passwords "$DATA_DIR/redis-users" > "$DATA_DIR/redis/users.acl" \
      || die "could not write the Redis ACL file"
    acl=(--aclfile "$DATA_DIR/redis/users.acl")
    ACL_USERS=yes
  fi
  start redis "$LOG_DIR/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --dir "$DATA_DIR/redis" --appendonly yes --save "" --aof-use-rdb-preamble yes \
    --auto-aof-rewrite-percentage 100 --auto-aof-rewrite-min-size 16mb \
    --logfile "$LOG_DIR/redis.log" --daemonize no "${acl[@]}"
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
  # Ready means PONG: while it replays a large AOF, Redis answers LOADING.
  wait_for_redis "$REDIS_PORT" "$pid" || die "Redis did not start: see $LOG_DIR/redis.log"
  say "Redis      redis://127.0.0.1:$REDIS_PORT (AOF in $DATA_DIR/redis$([ "$REDIS_ACL" = on ] && echo "; a user per service, passwords in $DATA_DIR/redis-users"))"
fi

# --- traces --------------------------------------------------------------------------------
# Started before everything that exports, stopped after it (so the last spans arrive).
if [ $with_traces = yes ]; then
  check_port "$TRACES_PORT" traces TRACES_PORT
  start traces "$LOG_DIR/traces.log" env TRACES_DIR="$TRACES_DIR" \
    TRACES_LISTEN="127.0.0.1:$TRACES_PORT" "$BIN_DIR/traces" serve
  deadline=$((SECONDS + 10))
  until [ "$(http_status "$TRACES_PORT" /healthz)" = 204 ]; do
    exited traces && die "the trace receiver exited: see $LOG_DIR/traces.log"
    [ $SECONDS -lt $deadline ] || die "the trace receiver is not ready: see $LOG_DIR/traces.log"
    sleep 0.1
  done
  export OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$TRACES_PORT"
  # Spans leave each service within half a second (the SDK's default is 5 s).
  export OTEL_BSP_SCHEDULE_DELAY="${OTEL_BSP_SCHEDULE_DELAY:-500}"
fi

# --- the sandbox payment provider ---------------------------------------------------------
if [ $with_sandbox = yes ]; then
  check_port "$SANDBOX_PORT" sandbox SANDBOX_PORT
  # One webhook secret per data directory, kept so restarts agree with the provider.
  secret_file="$DATA_DIR/sandbox-webhook-secret"
  if [ ! -s "$secret_file" ]; then
    (umask 077; echo "whsec_$(head -c 32 /dev/urandom | base64 | tr -d '\n')" > "$secret_file")
  fi
  export SANDBOX_WEBHOOK_SECRETS="${SANDBOX_WEBHOOK_SECRETS:-$(cat "$secret_file")}"
  export SANDBOX_URL="http://127.0.0.1:$SANDBOX_PORT"
  payments_port=""
  for s in "${SERVICES[@]}"; do
    read -r n p <<<"$s"
    if [ "$n" = payments ]; then payments_port=$p; fi
  done
  start sandbox-provider "$LOG_DIR/sandbox-provider.log" env SANDBOX_HOST=127.0.0.1 \
    SANDBOX_PORT="$SANDBOX_PORT" SANDBOX_PUBLIC_URL="http://127.0.0.1:$GATEWAY_PORT/sandbox" \
    SANDBOX_WEBHOOK_URL="http://127.0.0.1:$payments_port/api/payments/webhooks/sandbox" \
    "$BIN_DIR/sandbox-provider"
  export SANDBOX_UPSTREAM="127.0.0.1:$SANDBOX_PORT"
fi

# --- admin's audit chain key -------------------------------------------------------------
# The HMAC key of the audit log's hash chain, which the admin database never holds: one
# per data directory, kept so that after a restart the chain written before still
# verifies. AUDIT_CHAIN_KEY set in the environment wins.
for s in "${SERVICES[@]}"; do
  if [ "${s%% *}" = admin ]; then
    key_file="$DATA_DIR/audit-chain-key"
    if [ ! -s "$key_file" ]; then
      (umask 077; head -c 32 /dev/urandom | base64 | tr -d '\n' > "$key_file")
    fi
    export AUDIT_CHAIN_KEY="${AUDIT_CHAIN_KEY:-$(cat "$key_file")}"
  fi
done

if [ "$REDIS_ACL" = on ] && [ "${ACL_USERS:-no}" != yes ]; then
  say "REDIS_ACL=on applies to make run's own single Redis only (not REDIS_URL or REDIS=cluster): ignored"
fi

# --- event signing keys ----------------------------------------------------------------
# Each producer signs its events with its own Ed25519 key (made once per data directory in
# $DATA_DIR/event-keys); every consumer accepts only events signed by their producer.
first="${SERVICES[0]%% *}"
EVENT_PUBLIC_KEYS="$("$BIN_DIR/$first" event-keys --dir "$DATA_DIR/event-keys")" \
  || die "could not make the event signing keys in $DATA_DIR/event-keys"
export EVENT_PUBLIC_KEYS

# --- services ----------------------------------------------------------------------------
export DATA_DIR HOST=127.0.0.1 TRUSTED_PROXIES=127.0.0.1
# mimalloc gives freed memory back to the system (purged after its delay) instead of
# keeping its arenas committed: an idle service holds about 5 MB of heap, not 25-55 MB
# (docs/performance.md). The image sets the same.
export MIMALLOC_ARENA_EAGER_COMMIT="${MIMALLOC_ARENA_EAGER_COMMIT:-0}"
for s in "${SERVICES[@]}"; do
  read -r name port <<<"$s"
  url=$REDIS_URL
  if [ "${ACL_USERS:-no}" = yes ]; then
    # The service's own Redis user (in its environment, not on a command line).
    url="redis://$name:$(cat "$DATA_DIR/redis-users/$name")@127.0.0.1:$REDIS_PORT"
  fi
  key="$DATA_DIR/event-keys/$name.key"
  PORT=$port REDIS_URL="$url" EVENT_SIGNING_KEY_FILE="$key" "$BIN_DIR/$name" migrate >>"$LOG_DIR/$name.log" 2>&1 \
    || die "$name: migrations failed, see $LOG_DIR/$name.log"
  start "$name" "$LOG_DIR/$name.log" env PORT="$port" REDIS_URL="$url" EVENT_SIGNING_KEY_FILE="$key" \
    "$BIN_DIR/$name" serve
done

# --- gateway ---------------------------------------------------------------------------
names=$(printf '%s ' "${SERVICES[@]%% *}")
GATEWAY_PORT=$GATEWAY_PORT GATEWAY_SERVICES="$names" GATEWAY_ERROR_LOG=logs/error.log \
  bash deploy/gateway/render.sh "$DATA_DIR/gateway" >/dev/null
start gateway "$DATA_DIR/gateway/logs/error.log" \
  "$NGINX" -p "$DATA_DIR/gateway" -c "$DATA_DIR/gateway/nginx.conf" -e "$DATA_DIR/gateway/logs/error.log"

# --- ready? --------------------------------------------------------------------------------
deadline=$((SECONDS + ${READY_WITHIN:-90}))
for s in "${SERVICES[@]}"; do
  read -r name port <<<"$s"
  until [ "$(http_status "$port" /readyz)" = 200 ]; do
    exited "$name" && die "$name exited: see $LOG_DIR/$name.log"
    [ $SECONDS -lt $deadline ] || die "$name is not ready after ${READY_WITHIN:-90} s: see $LOG_DIR/$name.log"
    sleep 0.2
  done
done
until [ "$(http_status "$GATEWAY_PORT" /healthz)" = 200 ]; do
  exited gateway && die "the gateway exited: see $DATA_DIR/gateway/logs/error.log"
  [ $SECONDS -lt $deadline ] || die "the gateway is not ready: see $DATA_DIR/gateway/logs/error.log"
  sleep 0.2
done

say ""
say "Vestio is running. Ctrl-C (or make stop) stops it; a process that dies is started again."
say ""
say "  gateway    http://127.0.0.1:$GATEWAY_PORT"
for s in "${SERVICES[@]}"; do
  read -r name _ <<<"$s"
  if [ "$name" = admin ]; then
    say "  console    http://127.0.0.1:$GATEWAY_PORT/admin/   (sign in with an admin: make create-admin; docs/admin.md)"
  fi
done
for s in "${SERVICES[@]}"; do
  read -r name port <<<"$s"
  printf '  %-10s http://127.0.0.1:%s   docs: http://127.0.0.1:%s/api-docs/%s/\n' "$name" "$port" "$GATEWAY_PORT" "$name"
done
if [ $with_sandbox = yes ]; then
  printf '  %-10s http://127.0.0.1:%s   checkout pages: http://127.0.0.1:%s/sandbox/checkout/<reference>\n' sandbox "$SANDBOX_PORT" "$GATEWAY_PORT"
fi
say "  logs       $LOG_DIR"
if [ $with_traces = yes ]; then
  say "  traces     make trace (the last requests), make trace ROUTE=offers, make trace ID=<trace id>"
elif [ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
  say "  traces     exported to $OTEL_EXPORTER_OTLP_ENDPOINT"
fi
say ""
say "Try:"
say "  curl -s http://127.0.0.1:$GATEWAY_PORT/api/auth/register -H 'content-type: application/json' \\"
say "    -d '{\"email\":\"ada@example.com\",\"password\":\"correct horse 42\",\"role\":\"seller\",\"full_name\":\"Ada Obi\"}'"
say "  make create-admin EMAIL=admin@example.com PASSWORD='change me 2024'"
say "  make demo"
say ""
# Until we are told to stop (INT or TERM: the trap exits, and cleanup stops the rest). The
# supervisors only end when told to.
wait || true
