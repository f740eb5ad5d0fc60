#!/bin/bash
# Container health probe: GET http://127.0.0.1:$PORT/healthz with bash's
# /dev/tcp, so the runtime image needs no curl or wget. Exit 0 on HTTP 200.
#   healthcheck.sh [PATH]     (default /healthz)
set -u
path=${1:-/healthz}
exec 3<>"/dev/tcp/127.0.0.1/${PORT:?PORT is not set}" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 5 _ code _ <&3 || exit 1
exec 3<&-
[ "$code" = 200 ]
