#!/bin/sh
# Scaffold a service's Kubernetes folder from auth's:
#   k8s/new-service.sh NAME PORT PREFIX [MAX_BODY]
#   k8s/new-service.sh kyc 8082 /api/kyc 12m
# Copies k8s/base/services/auth to k8s/base/services/NAME, renames, drops the
# auth-only parts (JWT signing keys), then prints the remaining one-liners
# (base kustomization, overlays). WebSocket annotations: see docs/deploy.md.
set -eu
[ $# -ge 3 ] || { echo "usage: $0 NAME PORT PREFIX [MAX_BODY]" >&2; exit 2; }
name=$1 port=$2 prefix=$3 body=${4:-1m}
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
src="$here/base/services/auth"
dst="$here/base/services/$name"
[ ! -e "$dst" ] || { echo "$dst exists" >&2; exit 1; }
upper=$(printf '%s' "$name" | tr 'a-z-' 'A-Z_')
mkdir -p "$dst"
for f in "$src"/*.yaml; do
    sed -e '/# auth-only:begin/,/# auth-only:end/d' \
        -e "s|/api/auth|$prefix|g" \
        -e "s|/api-docs/auth|/api-docs/$name|g" \
        -e "s|AUTH_DATABASE_URL|${upper}_DATABASE_URL|g" \
        -e "s|8081|$port|g" \
        -e "s|proxy-body-size: 1m|proxy-body-size: $body|" \
        -e "s|\bauth\b|$name|g" \
        -e "s|The auth service|The $name service|" \
        "$f" >"$dst/$(basename "$f")"
done
cat <<MSG
Created $dst. Now:
  k8s/base/kustomization.yaml         add   - services/$name
  k8s/overlays/dev/kustomization.yaml add   images: vestio/$name newTag dev;
                                            secretGenerator $name-secrets (db-password, redis-credentials=);
                                            postgres-secrets ${upper}_DB_PASSWORD
  k8s/overlays/dev/postgres.yaml      add   $name to VESTIO_DATABASES, ${upper}_DB_PASSWORD_FILE
  k8s/overlays/prod/kustomization.yaml add  images: vestio/$name newTag <version>
  prod secrets: $name-secrets in the cluster (see k8s/base/secret.example.yaml)
Then: deploy/k8s-validate.sh
MSG
