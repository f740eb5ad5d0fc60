#!/usr/bin/env bash
# `make link-order`: remakes .cargo/link-order.txt, the order .cargo/cc-order.sh lays a
# release binary's code out in. Starts the stack (make run, on make run's ports: stop any
# other make run first) with every service under valgrind's callgrind, lets it idle IDLE
# seconds (30), stops it, and lists the functions each service's binary ran, each
# service's hottest first, the services interleaved, without their hashes (cut to 160
# characters, as the linker driver reads them).
# BIN_DIR: the release binaries to record (default: make run's own build).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
command -v valgrind >/dev/null || die "valgrind is needed (apt-get install valgrind)"
IDLE=${IDLE:-30}
names=$(services | cut -d' ' -f1 | tr '\n' ' ')
work=$(mktemp -d "${TMPDIR:-/tmp}/vestio-link-order.XXXXXX")
trap 'DATA_DIR="$work/data" bash scripts/stop.sh >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
if [ "$BIN_DIR" = "$CARGO_TARGET_DIR/release" ]; then
  say "Building the services in release mode..."
  pkgs=(-p sandbox-provider -p traces)
  for name in $names; do pkgs+=(-p "$name"); done
  cargo build --release --locked --quiet "${pkgs[@]}"
fi
mkdir -p "$work/bin" "$work/callgrind"
for name in $names; do
  cat > "$work/bin/$name" <<SH
#!/bin/sh
if [ "\$1" = serve ]; then
  exec valgrind --tool=callgrind --demangle=no --dump-instr=no --compress-strings=no \
    --callgrind-out-file="$work/callgrind/$name.%p.out" "$BIN_DIR/$name" "\$@"
fi
exec "$BIN_DIR/$name" "\$@"
SH
  chmod +x "$work/bin/$name"
done
for b in sandbox-provider traces; do ln -s "$BIN_DIR/$b" "$work/bin/$b"; done

say "Starting the stack under callgrind (slow: a few minutes)..."
DATA_DIR="$work/data" BIN_DIR="$work/bin" READY_WITHIN=900 bash scripts/run.sh > "$work/run.log" 2>&1 &
wait_running "$work/run.log" $! 960 || die "the stack did not start under callgrind: $work/run.log"
say "Idling $IDLE s (what an idle service runs is part of the list)..."
sleep "$IDLE"
DATA_DIR="$work/data" bash scripts/stop.sh >/dev/null

# Each output: the functions of the service's own binary (ob=) and their own cost (the
# cost lines after fn=, not those after calls=), hottest first, as "rank service name".
for name in $names; do
  cat "$work/callgrind/$name".*.out 2>/dev/null | awk -v bin="$BIN_DIR/$name" '
    /^ob=/ { ob = substr($0, 4); next }
    /^fn=/ { fn = (ob == bin) ? substr($0, 4) : ""; call = 0; if (fn != "") cost[fn] += 0; next }
    /^calls=/ { call = 1; next }
    /^[0-9+-]/ { if (fn != "" && !call) cost[fn] += $2; call = 0; next }
    END { for (f in cost) print cost[f], f }' \
    | sort -rn -k1,1 | cut -d' ' -f2- | { grep -vE '^(0x|\()' || true; } | sed -E "s/'[0-9]+$//" \
    | awk -v s="$name" '{ print NR, s, $0 }'
done | sort -n -k1,1 -s | cut -d' ' -f2- | sed -E 's/17h[0-9a-f]{16}E$/E/' \
  | awk -v names="$names" '
      # One line per function: which services ran it (a 0/1 flag per service, in the
      # order of the "services" line) and its name cut to 160 characters.
      BEGIN { n = split(names, list, " "); for (i = 1; i <= n; i++) index_of[list[i]] = i }
      {
        service = $1; key = substr($0, length(service) + 2, 160)
        if (!(key in flags)) { order[++count] = key; flags[key] = sprintf("%0" n "d", 0) }
        i = index_of[service]
        flags[key] = substr(flags[key], 1, i - 1) "1" substr(flags[key], i + 1)
      }
      END { for (k = 1; k <= count; k++) print flags[order[k]], order[k] }' > "$work/order"
[ -s "$work/order" ] || die "callgrind recorded nothing: see $work/run.log"
{
  echo "# Functions the services run while they start and idle, hottest first, without their"
  echo "# hashes: the order .cargo/cc-order.sh lays a release binary's code out in. Made by"
  echo "# make link-order (scripts/link-order.sh); docs/decisions.md, \"Code laid out in the order it runs\"."
  echo "# Each line: a flag per service (1: it ran the function), then the function."
  echo "# services: $names"
  cat "$work/order"
} > .cargo/link-order.txt
say ".cargo/link-order.txt: $(grep -vc '^#' .cargo/link-order.txt) functions. Relink (cargo build --release) to use it."
