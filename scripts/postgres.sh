#!/usr/bin/env bash
# A PostgreSQL server for the tests and the ingestion bench, on loopback:
#
#   scripts/postgres.sh start   initdb (once) and start; prints the URL
#   scripts/postgres.sh stop    stop it
#   scripts/postgres.sh url     print the URL
#
# Debian's PostgreSQL (installed by scripts/native-deps.sh), a throwaway
# cluster in $MODELGATE_PG_DIR (default /tmp/modelgate-pg-PORT) on
# 127.0.0.1:$MODELGATE_PG_PORT (default 55432), trust authentication for
# the superuser `modelgate`, the C locale, and a database `modelgate`.
# PostgreSQL refuses to run as root: as root, the server runs as the
# `postgres` user the package made.
set -euo pipefail

port=${MODELGATE_PG_PORT:-55432}
dir=${MODELGATE_PG_DIR:-/tmp/modelgate-pg-$port}
url="postgres://modelgate@127.0.0.1:$port/modelgate"

bin=""
for candidate in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" \
  /usr/lib/postgresql/*/bin; do
  if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
    bin=$candidate
  fi
done
if [ -z "$bin" ]; then
  echo "postgres.sh: no PostgreSQL server binaries; scripts/native-deps.sh installs them" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-start}" in
  url)
    echo "$url"
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null
    fi
    ;;
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      rm -rf "$dir"
      mkdir -p "$dir/data" "$dir/run"
      [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
      as_owner "$bin/initdb" -D "$dir/data" -U modelgate -A trust --locale=C -E UTF8 \
        --no-sync >"$dir/initdb.log" 2>&1 ||
        { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/run -c max_connections=300" \
        start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    fi
    # The database, once.
    for _ in $(seq 1 50); do
      if psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qtAc 'SELECT 1' >/dev/null 2>&1; then
        break
      fi
      sleep 0.2
    done
    if [ "$(psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qtAc \
      "SELECT 1 FROM pg_database WHERE datname = 'modelgate'")" != "1" ]; then
      psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qc 'CREATE DATABASE modelgate' >/dev/null
    fi
    echo "$url"
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop|url" >&2
    exit 2
    ;;
esac
