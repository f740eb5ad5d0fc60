#!/usr/bin/env bash
# `make conformance`: every service's OpenAPI document checked against what the service
# does, through the gateway: schemathesis with all its checks (server errors, statuses,
# content types, headers and bodies as documented, schema-valid requests accepted and
# invalid ones refused, 405 with Allow, authentication enforced...), as an admin, a
# KYC-approved seller and a KYC-approved investor. Any failure fails the run.
#
# Starts its own stack (scripts/run.sh on the debug binaries, in a temporary data
# directory, rate limits raised so the run is not throttled, no traces), so nothing else
# may hold make run's ports. Operations that would end the caller's session (logout,
# suspending a user) run last, with users of their own.
#
#   CONFORMANCE_EXAMPLES  examples per operation and phase (50)
#   CONFORMANCE_SEED      schemathesis' seed (fixed, so CI is repeatable; vary it to explore)
#   CONFORMANCE_SERVICES  which documents (every service in deploy/gateway/services.tsv)
#   CONFORMANCE_ROLES     as whom ("admin seller investor")
#   ST_VENV               where schemathesis is installed (.venv-schemathesis)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

examples=${CONFORMANCE_EXAMPLES:-50}
seed=${CONFORMANCE_SEED:-20261206}
ST_VENV=${ST_VENV:-$ROOT/.venv-schemathesis}
SCHEMATHESIS_VERSION=4.32.5

# --- schemathesis ---------------------------------------------------------------------
if [ ! -x "$ST_VENV/bin/st" ] || ! "$ST_VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  say "Installing schemathesis $SCHEMATHESIS_VERSION into $ST_VENV..."
  command -v python3 >/dev/null || die "install python3: sudo apt-get install -y python3 python3-venv"
  [ -x "$ST_VENV/bin/pip" ] || python3 -m venv "$ST_VENV" || die "create a venv: sudo apt-get install -y python3-venv"
  "$ST_VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

# --- the stack -------------------------------------------------------------------------
export BIN_DIR="${CONFORMANCE_BIN_DIR:-$CARGO_TARGET_DIR/debug}"
if [ -z "${CONFORMANCE_BIN_DIR:-}" ]; then
  say "Building the debug binaries..."
  cargo build --locked --quiet --workspace --bins
fi
DATA_DIR=$(mktemp -d /tmp/vestio-conformance.XXXXXX)
export DATA_DIR RUN_DIR="$DATA_DIR/run" LOG_DIR="$DATA_DIR/logs"
export TRACES=off AUTH_RATE_BURST=1000000 LOGIN_FAILURES_BURST=1000000 KYC_UPLOADS_BURST=1000000
stack=""
finish() {
  local code=$?
  if [ -n "$stack" ]; then
    kill -TERM "$stack" 2>/dev/null || true
    wait "$stack" 2>/dev/null || true
  fi
  if [ $code = 0 ]; then rm -rf "$DATA_DIR"; else say "Logs kept in $DATA_DIR/logs"; fi
}
trap finish EXIT
bash scripts/run.sh >"$DATA_DIR/run.log" 2>&1 &
stack=$!
wait_running "$DATA_DIR/run.log" "$stack" 120 || die "make run did not come up"
base="http://127.0.0.1:$GATEWAY_PORT"

admin_email="conformance-admin@example.com"
admin_password="conformance run 2026"
ADMIN_PASSWORD=$admin_password "$BIN_DIR/auth" create-admin --email "$admin_email" >/dev/null
# fixtures: ADMIN_TOKEN, SELLER_TOKEN, INVESTOR_TOKEN (a new seller and investor each time).
fixtures() {
  ADMIN_EMAIL=$admin_email ADMIN_PASSWORD=$admin_password "$BIN_DIR/demo" --gateway "$base" --fixtures
}
# The walk-through first: listings, offers, payments and notifications to find.
ADMIN_EMAIL=$admin_email ADMIN_PASSWORD=$admin_password "$BIN_DIR/demo" --gateway "$base" >"$DATA_DIR/demo.log" \
  || { cat "$DATA_DIR/demo.log" >&2; die "the demo failed before the conformance run"; }

if [ -n "${CONFORMANCE_SERVICES:-}" ]; then
  read -r -a names <<<"$(printf '%s' "$CONFORMANCE_SERVICES" | tr ',' ' ')"
else
  mapfile -t names < <(services | cut -d' ' -f1)
fi
# Operations that end the caller's session or account, run last with their own users.
last='/logout$|/suspend$'

failed=()
# check NAME TOKEN [schemathesis options...]: one document as one user.
check() {
  local name=$1 token=$2; shift 2
  local started=$SECONDS
  if "$ST_VENV/bin/st" --config-file scripts/schemathesis.toml run "$base/api-docs/$name/openapi.json" --url "$base" \
      --checks all --workers 1 --max-examples "$examples" --seed "$seed" \
      --header "Authorization: Bearer $token" --no-color "$@" >"$DATA_DIR/st-$name-$role$part.log" 2>&1; then
    say "  $name as $role$part: passed ($((SECONDS - started)) s)"
  else
    failed+=("$name as $role$part")
    say "  $name as $role$part: FAILED ($((SECONDS - started)) s)"
    sed -n '/= FAILURES =/,$p' "$DATA_DIR/st-$name-$role$part.log" | head -200 >&2
  fi
}

started=$SECONDS
eval "$(fixtures)"
read -r -a roles <<<"${CONFORMANCE_ROLES:-admin seller investor}"
token_of() {
  case $1 in
    admin) echo "$ADMIN_TOKEN" ;;
    seller) echo "$SELLER_TOKEN" ;;
    investor) echo "$INVESTOR_TOKEN" ;;
    *) die "CONFORMANCE_ROLES: $1 is not admin, seller or investor" ;;
  esac
}
part=""
for role in "${roles[@]}"; do
  token=$(token_of "$role")
  say "schemathesis as $role ($examples examples per operation, seed $seed):"
  for name in "${names[@]}"; do
    check "$name" "$token" --exclude-path-regex "$last"
  done
done
# What ends a session: as users made for it (each role's own, fresh).
part="-last"
for role in "${roles[@]}"; do
  eval "$(fixtures)"
  token=$(token_of "$role")
  for name in "${names[@]}"; do
    if curl -sf "$base/api-docs/$name/openapi.json" | grep -qE '/(logout|suspend)"'; then
      check "$name" "$token" --include-path-regex "$last"
    fi
  done
done

say ""
if [ ${#failed[@]} -gt 0 ]; then
  die "conformance: ${#failed[@]} run(s) failed: ${failed[*]} (logs in $DATA_DIR)"
fi
say "conformance: every document matches its service ($((SECONDS - started)) s)."
