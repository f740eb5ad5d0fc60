#!/usr/bin/env bash
# `make rss`: the resident memory of each service make run started, split as
# docs/performance.md reports it (from /proc/<pid>/smaps): the binary's code pages
# (r-xp), its read-only data (r--p, with the relocated data once written), anonymous
# memory (heap, stacks, the binary's written pages) and the rest (libraries), in MB, and
# the process's threads.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"
printf '%-14s %7s %7s %7s %7s %7s %7s\n' service rss code ro anon other threads
for name in $(services | cut -d' ' -f1); do
  f="$RUN_DIR/$name.pid"
  [ -s "$f" ] || continue
  pid=$(cat "$f")
  [ -r "/proc/$pid/smaps" ] || continue
  exe=$(readlink "/proc/$pid/exe")
  awk -v exe="$exe" -v name="$name" -v threads="$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)" '
    /^[0-9a-f]+-[0-9a-f]+ / { perm = $2; path = $6; next }
    /^Rss:/ {
      if (path == exe && perm == "r-xp") code += $2
      else if (path == exe && perm == "r--p") ro += $2
      rss += $2
    }
    /^Anonymous:/ { anon += $2 }
    END {
      printf "%-14s %7.1f %7.1f %7.1f %7.1f %7.1f %7d\n", name, rss / 1024, code / 1024,
        ro / 1024, anon / 1024, (rss - code - ro - anon) / 1024, threads
    }' "/proc/$pid/smaps"
done
