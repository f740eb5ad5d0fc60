#!/usr/bin/env bash
# Smoke test of the rendered gateway config against a stand-in upstream (no
# Rust build needed): renders into a temp folder on free ports, runs real
# nginx in the foreground, checks routing, headers, WebSocket upgrade, body
# limits, the 404 problem and the 502/503 problems, then stops what it started.
# (check conditions are strings eval-ed by check(): shellcheck cannot see the
# variables they use.)
# shellcheck disable=SC2034
#
#   deploy/gateway/smoke-test.sh          (needs nginx, python3, curl)
set -euo pipefail
[ -n "${DEBUG:-}" ] && set -x

here=$(cd -- "$(dirname -- "$0")" && pwd)
command -v nginx >/dev/null || { echo "nginx missing: apt-get install -y nginx-light" >&2; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
gw_port=$(free_port); auth_port=$(free_port); kyc_port=$(free_port); notif_port=$(free_port)

# Stand-in service: echoes method, path and the headers it got as JSON;
# answers a WebSocket upgrade with 101.
cat >"$work/standin.py" <<'EOF'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n: self.rfile.read(n)
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.send_response(101)
            self.send_header("Upgrade", "websocket"); self.send_header("Connection", "Upgrade")
            self.end_headers(); self.wfile.flush(); return
        body = json.dumps({"method": self.command, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        ctype = "text/html" if self.path.startswith("/api-docs/") and not self.path.endswith(".json") else "application/json"
        self.send_response(200)
        self.send_header("Content-Type", ctype); self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Frame-Options", "SAMEORIGIN")  # must be replaced by the gateway's
        self.end_headers(); self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = reply
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$work/standin.py" "$auth_port" & pids+=($!)
python3 "$work/standin.py" "$notif_port" & pids+=($!)
# kyc is routed to $kyc_port, where nothing listens: 502 problem.

GATEWAY_PORT=$gw_port GATEWAY_SERVICES=auth,kyc,notifications \
AUTH_UPSTREAM=127.0.0.1:$auth_port KYC_UPSTREAM=127.0.0.1:$kyc_port \
NOTIFICATIONS_UPSTREAM=127.0.0.1:$notif_port \
    "$here/render.sh" "$work/gw"
nginx -t -q -p "$work/gw" -c "$work/gw/nginx.conf" -e stderr
nginx -p "$work/gw" -c "$work/gw/nginx.conf" -e stderr & pids+=($!)

base=http://127.0.0.1:$gw_port
for url in "$base/healthz" "http://127.0.0.1:$auth_port/" "http://127.0.0.1:$notif_port/"; do
    for _ in $(seq 100); do curl -fsS "$url" >/dev/null 2>&1 && break; sleep 0.1; done
done

pass=0 fail=0
check() { # description, shell condition (evaluated)
    local what=$1; shift
    if eval "$1"; then pass=$((pass + 1)); echo "ok   $what"; else fail=$((fail + 1)); echo "FAIL $what (status $status: ${body:0:200})"; fi
}
req() { # curl args...; sets status, headers, body
    local h="$work/h" b="$work/b"
    status=$(curl -sS -o "$b" -D "$h" -w '%{http_code}' "$@" || true)
    headers=$(tr -d '\r' <"$h"); body=$(cat "$b")
}
has() { grep -qi -- "$2" <<<"$1"; }
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" <<<"$body"; }

req -H 'X-Forwarded-For: 6.6.6.6' "$base/api/auth/login?x=1"
check "auth route passes the path unchanged" '[ "$status" = 200 ] && [ "$(json '\''d["path"]'\'')" = "/api/auth/login?x=1" ]'
check "X-Forwarded-For replaced by the client address" '[ "$(json '\''d["headers"]["x-forwarded-for"]'\'')" = 127.0.0.1 ]'
rid=$(json 'd["headers"]["x-request-id"]')
check "X-Request-Id generated and sent upstream and back" 'has "$headers" "x-request-id: $rid"'
check "security headers present" 'has "$headers" "x-content-type-options: nosniff"'
check "service's own X-Frame-Options replaced by DENY" 'bash -c "grep -ci '\''^x-frame-options'\'' <<<\"\$0\" | grep -qx 1 && grep -qi '\''x-frame-options: DENY'\'' <<<\"\$0\"" "$headers"'
check "strict CSP on API responses" 'has "$headers" "content-security-policy: default-src '\''none'\''"'

req -H 'X-Request-Id: abc-123' "$base/api/auth/me"
check "a well-formed X-Request-Id is passed on" '[ "$(json '\''d["headers"]["x-request-id"]'\'')" = abc-123 ]'
req -H 'X-Request-Id: bad id"{}' "$base/api/auth/me"
check "a malformed X-Request-Id is replaced" '[ "$(json '\''d["headers"]["x-request-id"]'\'')" != '\''bad id"{}'\'' ]'

req "$base/api-docs/auth/"
check "docs UI proxied to /api-docs/" '[ "$status" = 200 ] && [ "$(json '\''d["path"]'\'')" = "/api-docs/" ]'
check "docs UI CSP allows self scripts" 'has "$headers" "script-src '\''self'\''"'
req "$base/api-docs/auth/openapi.json"
check "docs openapi.json proxied" '[ "$(json '\''d["path"]'\'')" = "/api-docs/openapi.json" ]'

req -H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
    -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' --max-time 3 "$base/api/notifications/ws"
check "WebSocket upgrade passed through (101)" '[ "$status" = 101 ]'

req "$base/nope"
check "unknown path: 404" '[ "$status" = 404 ]'
check "404 is problem+json" 'has "$headers" "content-type: application/problem+json"'
check "404 body is a problem" '[ "$(json '\''d["status"]'\'')" = 404 ]'

req "$base/api/kyc/documents"
check "stopped upstream: 502" '[ "$status" = 502 ]'
check "502 is problem+json naming the service" '[ "$(json '\''d["title"]'\'')" = "Bad Gateway" ] && has "$body" '\''"The kyc service'\'''
check "502 keeps security headers" 'has "$headers" "x-content-type-options: nosniff"'

req "$base/api/payments/x"
check "service not deployed: 503 problem" '[ "$status" = 503 ] && has "$headers" "application/problem+json" && [ "$(json '\''d["status"]'\'')" = 503 ]'

head -c 2000000 /dev/zero >"$work/big"
req -X POST --data-binary @"$work/big" -H 'Content-Type: application/octet-stream' "$base/api/auth/register"
check "2 MB to auth: 413 problem (limit 1m)" '[ "$status" = 413 ] && has "$headers" "application/problem+json"'
req -X POST --data-binary @"$work/big" -H 'Content-Type: application/octet-stream' "$base/api/kyc/documents"
check "2 MB to kyc: accepted by the gateway (limit 12m; 502 as kyc is down)" '[ "$status" = 502 ]'

req "$base/api-docs/"
check "docs index lists routed services" 'has "$body" '\''/api-docs/auth/'\'''

check "access log is JSON" 'tail -n 1 "$work/gw/logs/access.log" | python3 -c "import json,sys; json.loads(sys.stdin.read())"'

[ "$fail" -eq 0 ] || tail -n 5 "$work/gw/logs/error.log" >&2
echo "gateway-smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
