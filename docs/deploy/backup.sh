#!/bin/sh
# /usr/local/sbin/agrifleet-backup — nightly: the database and the model registry (docs/deploy.md).
# Safe while the fleet runs. Keep the copies on another machine.
set -eu
. "${AGRIFLEET_ENV_FILE:-/etc/agrifleet/fleet.env}"
DEST=${1:-/var/backups/agrifleet}/$(date -u +%Y-%m-%dT%H%M)
mkdir -p "$DEST"
case "$AGRIFLEET_DATABASE_URL" in
  postgresql*) pg_dump --format=custom --file="$DEST/fleet.dump" "$AGRIFLEET_DATABASE_URL" ;;
  sqlite:///*) sqlite3 "${AGRIFLEET_DATABASE_URL#sqlite:///}" ".backup '$DEST/fleet.db'" ;;
esac
# The registry: every published model package (models/<name>/<version>/).
tar -C "$AGRIFLEET_DATA_DIR" -czf "$DEST/models.tar.gz" models
echo "backup in $DEST"
