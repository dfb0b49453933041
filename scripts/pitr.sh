#!/usr/bin/env bash
# Point-in-time recovery for the portal's PostgreSQL: WAL archiving, base
# backups, and a restore to a chosen moment.
#
# Procedure (production; RPO 1 hour, RTO 4 hours):
#
#  1. Archive WAL. Add to postgresql.conf and restart PostgreSQL once:
#       scripts/pitr.sh config ARCHIVE_DIR >> "$PGDATA/postgresql.conf"
#     ARCHIVE_DIR must be on other storage than PGDATA (and copied off the
#     machine, like the hourly encrypted backups).
#  2. Take a base backup (daily, from cron or the orchestrator):
#       scripts/pitr.sh base-backup BACKUP_DIR        # uses PGHOST/PGPORT/PGUSER
#  3. To recover to a moment (an erroneous delete at 14:03 UTC, say):
#       - stop the portal (web, worker, beat) so nothing writes;
#       - scripts/pitr.sh restore BACKUP_DIR ARCHIVE_DIR NEW_PGDATA "2026-12-04 14:02:00+00"
#       - start PostgreSQL on NEW_PGDATA: it replays the archive up to the
#         moment, then promotes and accepts writes;
#       - check the data (row counts, the audit chain: manage.py audit_verify),
#         point DATABASE_URL at the recovered server, start the portal;
#       - take a new base backup: the old one belongs to the old timeline.
#  4. Record the recovery (times, target, who) as an incident in the portal.
#
# The restore never touches the running cluster: it writes a new data folder.
# Binaries come from PG_BIN (as scripts/services.sh exports it), else PATH.
# As root, PostgreSQL commands run as the postgres user.
set -euo pipefail

bin() {
  if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/$1" ]; then echo "$PG_BIN/$1"; else command -v "$1"; fi
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

own() {
  # The data and archive folders belong to the server's user.
  if [ "$(id -u)" = 0 ]; then chown -R postgres "$@"; fi
}

cmd=${1:?usage: pitr.sh config|base-backup|restore ...}
shift

case "$cmd" in
  config)
    archive=${1:?archive folder}
    mkdir -p "$archive"
    own "$archive"
    cat <<CONF
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $archive/%f && cp %p $archive/%f'
archive_timeout = 300
CONF
    ;;
  base-backup)
    target=${1:?backup folder}
    mkdir -p "$target"
    own "$target"
    # Plain format with the WAL needed for consistency streamed alongside;
    # later WAL comes from the archive at restore time.
    as_pg "$(bin pg_basebackup)" -D "$target" -Fp -X stream --checkpoint=fast -c fast \
      ${PGHOST:+-h "$PGHOST"} ${PGPORT:+-p "$PGPORT"} -U "${PGUSER:-postgres}"
    ;;
  restore)
    backup=${1:?base backup folder}
    archive=${2:?WAL archive folder}
    data=${3:?new data folder}
    moment=${4:?target moment, e.g. "2026-12-04 14:02:00+00"}
    if [ -e "$data" ] && [ -n "$(ls -A "$data" 2>/dev/null)" ]; then
      echo "refusing: $data is not empty" >&2
      exit 1
    fi
    mkdir -p "$data"
    cp -a "$backup/." "$data/"
    rm -f "$data/postmaster.pid"
    cat >>"$data/postgresql.auto.conf" <<CONF
restore_command = 'cp $archive/%f %p'
recovery_target_time = '$moment'
recovery_target_action = 'promote'
archive_mode = off
CONF
    touch "$data/recovery.signal"
    own "$data"
    chmod 700 "$data"
    echo "restored to $data; start PostgreSQL on it to replay up to $moment"
    ;;
  *)
    echo "unknown command: $cmd" >&2
    exit 2
    ;;
esac
