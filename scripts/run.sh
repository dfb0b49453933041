#!/usr/bin/env bash
# Start the embedded default: migrate, load the demo data, then run the web
# server, a Celery worker and beat together. Ctrl-C (or SIGTERM) stops all
# three. Needs no environment and no other server.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
HOST=${PORTAL_HOST:-127.0.0.1}
PORT=${PORTAL_PORT:-8000}
export DJANGO_SETTINGS_MODULE=cloudexpress.settings
export PYTHONUNBUFFERED=1
# Keep the terminal for the URL and the demo sign-ins; set LOG_LEVEL=INFO to see jobs.
export LOG_LEVEL=${LOG_LEVEL:-WARNING}

"$PY" manage.py migrate --noinput -v 0
demo=$("$PY" manage.py seed_demo | grep -v '^Demo access' || true)
# A real run over the demo data and this deployment's settings, so the
# portal opens on a real score.
"$PY" manage.py run_checks --quiet

pids=()
stopping=""
stop() {
  # Resetting a trap inside its own handler makes bash re-raise the signal
  # and die half-way, so a flag keeps the handler from running twice.
  [ -n "$stopping" ] && return 0
  stopping=1
  echo "stopping web, worker and beat"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # A newcomer expects Ctrl-C to be quick; whatever is still up after two
  # seconds is killed (the embedded queue does not redeliver anyway).
  for _ in $(seq 1 8); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap '[ -n "$stopping" ] || { stop; exit 0; }' INT TERM
trap stop EXIT

"$VENV/bin/celery" -A cloudexpress --quiet worker --pool=solo --loglevel=WARNING \
  --hostname="embedded@%h" &
pids+=($!)
"$VENV/bin/celery" -A cloudexpress --quiet beat --loglevel=WARNING \
  --schedule="$("$PY" -c 'from django.conf import settings; import django; django.setup(); print(settings.CELERY_BEAT_SCHEDULE_FILE)')" &
pids+=($!)
# --no-proxy-headers: uvicorn would otherwise believe X-Forwarded-For from
# loopback; the portal's own client-IP function decides instead.
"$VENV/bin/uvicorn" cloudexpress.asgi:application --host "$HOST" --port "$PORT" \
  --log-level warning --no-access-log --no-proxy-headers &
pids+=($!)

# Print the summary once the server answers, after the processes' banners.
"$PY" - "$HOST" "$PORT" <<'WAIT' || true
import socket, sys, time
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
        break
    except OSError:
        time.sleep(0.3)
WAIT
echo
echo "CloudExpress Compliance Portal: http://$HOST:$PORT/"
echo "$demo"
echo "officer@ is the compliance officer. Owners, admins, auditors and every member of the"
echo "operator organization (cloudexpress) enrol an authenticator app at first sign-in."
echo "Ctrl-C stops the web server, the worker and beat."
wait -n "${pids[@]}" || true
