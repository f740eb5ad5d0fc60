#!/bin/sh
# One PostgreSQL role and one database per service; no service can connect to
# another's database. Run once by the official postgres image on an empty data
# directory (mounted in /docker-entrypoint-initdb.d/), in docker-compose and in
# the k8s dev overlay (k8s/overlays/dev/postgres/ holds an identical copy,
# checked by deploy/k8s-validate.sh). Idempotent: safe to run again by hand.
#
#   VESTIO_DATABASES   services, comma or space separated (e.g. "auth,kyc")
#   <SERVICE>_DB_PASSWORD   password of each service's role (e.g. AUTH_DB_PASSWORD),
#   or <SERVICE>_DB_PASSWORD_FILE, a file holding it (a mounted Secret in k8s)
set -eu
for svc in $(printf '%s' "${VESTIO_DATABASES:-}" | tr ',' ' '); do
    var="$(printf '%s' "$svc" | tr 'a-z-' 'A-Z_')_DB_PASSWORD"
    eval "pw=\${$var:-}"
    eval "pw_file=\${${var}_FILE:-}"
    if [ -z "$pw" ] && [ -n "$pw_file" ]; then
        pw=$(cat "$pw_file")
    fi
    if [ -z "$pw" ]; then
        echo "init-databases: neither $var nor ${var}_FILE is set" >&2
        exit 1
    fi
    echo "init-databases: role and database '$svc'"
    psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname postgres \
        -v svc="$svc" -v pw="$pw" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'svc', :'pw')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'svc') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'svc', :'pw') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'svc', :'svc')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'svc') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'svc') \gexec
SQL
done
