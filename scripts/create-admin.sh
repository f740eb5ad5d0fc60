#!/usr/bin/env bash
# `make create-admin EMAIL=.. PASSWORD=..`: an admin in the stack `make run` started.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[ -n "${EMAIL:-}" ] && [ -n "${PASSWORD:-}" ] || die "usage: make create-admin EMAIL=admin@example.com PASSWORD='a long password 1'"
[ -x "$BIN_DIR/auth" ] || cargo build --release --locked --quiet -p auth
DATA_DIR=$DATA_DIR ADMIN_PASSWORD=$PASSWORD "$BIN_DIR/auth" create-admin --email "$EMAIL"
