"""gunicorn settings of the web service, shared by the compose file and the
load test (tests/bench/bench_load_portal.py), so the figures the load test
prints are those of the deployed configuration.

Uvicorn workers serve HTTP and the dashboard's WebSockets. Under ASGI each
request runs its synchronous code on a thread of its own, so a connection
kept by a thread is never reused: each worker process takes its database
connections from a pool of its own instead (at most
DATABASE_POOL_MAX_SIZE, 4 unless the environment says otherwise), which is
what the README's PostgreSQL sizing counts.
"""

import os

# Read by the settings of every worker this master forks.
os.environ.setdefault("DATABASE_POOL_MAX_SIZE", "4")

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
worker_class = "uvicorn.workers.UvicornWorker"
# A request still running after a minute is killed; the proxy waits as long.
timeout = 60
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so a slow leak never grows without bound;
# the jitter keeps them from restarting together.
max_requests = 2000
max_requests_jitter = 200
# Connections queued while every worker is busy (50 load-test clients fit).
backlog = 2048
accesslog = "-"
