#!/usr/bin/env bash
# The linker driver of x86_64 Linux builds (config.toml beside it): `cc`, called exactly as
# rustc would call it. For a release binary it also lays the code out in the order the
# services run it when they start and idle (.cargo/link-order.txt, made by
# scripts/link-order.sh): those functions sit together at the front of .text, so a
# started service maps a few MB of its code instead of most of it (the kernel maps
# file pages by the large folio: touching one function maps its neighbours).
# docs/decisions.md, "Code laid out in the order it runs".
#
# The list names functions without their hash (`17h<16 hex>E`), which changes with a
# crate's features and version: it matches whatever build links it (make run's, an
# image's one-service build), and a function it no longer finds is simply not ordered.
# VESTIO_LINK_ORDER=off links as plain `cc` does; VESTIO_LINK_ORDER=<file> takes another
# list (the tests' own).
set -euo pipefail

out="" prev=""
objects=()
for arg in "$@"; do
  if [ "$prev" = -o ]; then out=$arg; fi
  case "$arg" in
    *.o | *.rlib | *.a) objects+=("$arg") ;;
  esac
  prev=$arg
done
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
order="${VESTIO_LINK_ORDER:-on}"
if [ "$order" = on ]; then order="$root/.cargo/link-order.txt"; fi
name="$(basename "$out")"
case "$out" in
  *release/deps/*) ;;
  *) exec cc "$@" ;;
esac
if [ "$order" = off ] || [ ! -s "$order" ] || [ "${name#*.}" != "$name" ] \
  || [ ${#objects[@]} -eq 0 ]; then
  exec cc "$@"
fi

symbols="$(mktemp "${TMPDIR:-/tmp}/vestio-order.XXXXXX")"
trap 'rm -f "$symbols"' EXIT
# Every defined code symbol of the objects and archives being linked whose name, without
# its hash and cut as the list cuts it, is in the list, in the list's order.
# The list's lines are "<a 0/1 flag per service> <function>", the services named on its
# "# services:" line; a binary that is not one of them (a tool) takes every function.
nm --defined-only -P "${objects[@]}" 2>/dev/null \
  | awk -v order="$order" -v binary="${name%-*}" '
      BEGIN {
        while ((getline line < order) > 0) {
          if (line ~ /^# services:/) {
            m = split(substr(line, 13), names, " ")
            for (i = 1; i <= m; i++) if (names[i] == binary) column = i
          }
          if (line ~ /^#/ || line == "") continue
          space = index(line, " ")
          if (column && substr(line, column, 1) != "1") continue
          rank[substr(line, space + 1)] = ++n
        }
      }
      NF >= 2 && $2 ~ /^[tTwW]$/ {
        key = $1
        sub(/17h[0-9a-f]+E$/, "E", key)
        key = substr(key, 1, 160)
        if (key in rank && !($1 in seen)) { seen[$1] = 1; print rank[key], $1 }
      }' \
  | sort -n -k1,1 -s | cut -d' ' -f2 > "$symbols"
cc "$@" "-Wl,--symbol-ordering-file=$symbols" -Wl,--no-warn-symbol-ordering
