#!/usr/bin/env bash
# `make test`: lint, format check, types, migrations, then pytest on real
# PostgreSQL and Redis. With DATABASE_URL and REDIS_URL unset, private
# throwaway servers are started and stopped around the run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"
mode=${1:-}

echo "== ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .

echo "== mypy"
"$BIN/mypy"

echo "== makemigrations --check"
DJANGO_ENV=embedded CLOUDEXPRESS_DATA_DIR="$(mktemp -d)" \
  "$BIN/python" manage.py makemigrations --check --dry-run >/dev/null

services=""
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  services=$(mktemp -d)
  chmod 755 "$services"
  trap 'scripts/services.sh stop "$services"' EXIT
  eval "$(scripts/services.sh start "$services")"
  echo "== private PostgreSQL and Redis started"
fi
export DJANGO_ENV=test

echo "== pytest"
if [ "$mode" = "--bench" ]; then
  shift
  "$BIN/python" scripts/bench.py "$@"
else
  set +e
  "$BIN/pytest" -p no:cacheprovider "${@}"
  status=$?
  set -e
  # pytest's exit 5 means no test ran: a failure here, never a pass.
  if [ $status = 5 ]; then echo "no tests collected: failing"; exit 1; fi
  exit $status
fi
