#!/usr/bin/env bash
# A PostgreSQL server for the tests and the ingestion bench, on loopback:
#
#   scripts/postgres.sh start   initdb (once) and start; prints the URL
#   scripts/postgres.sh stop    stop it
#   scripts/postgres.sh url     print the URL
#   scripts/postgres.sh tls     print the folder of its TLS certificates
#
# Debian's PostgreSQL (installed by scripts/native-deps.sh), a throwaway
# cluster in $MODELGATE_PG_DIR (default /tmp/modelgate-pg-PORT) on
# 127.0.0.1:$MODELGATE_PG_PORT (default 55432), trust authentication for
# the superuser `modelgate`, the C locale, and a database `modelgate`.
#
# TLS is on, for the tests of `sslmode` (crates/inventory/tests/postgres.rs):
# a throwaway CA ($dir/tls/ca.pem) signed the server's certificate, issued
# for `localhost` only (so `verify-full` to 127.0.0.1 must fail), and a
# client certificate for the role `modelgate_cert`; other-ca.pem is a CA
# that signed nothing here. The role `modelgate_tls` may connect only over
# TLS, `modelgate_cert` only with its client certificate; the rest as before.
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

tls="$dir/tls"

# The CAs and certificates, once (openssl, as Debian has it).
make_certificates() {
  [ -f "$tls/client.key" ] && return 0
  command -v openssl >/dev/null || { echo "postgres.sh: openssl is needed (apt-get install -y openssl)" >&2; exit 1; }
  rm -rf "$tls" && mkdir -p "$tls"
  (
    cd "$tls"
    for ca in ca other-ca; do
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/CN=modelgate test $ca" -keyout "$ca.key" -out "$ca.pem" 2>/dev/null
    done
    issue() { # name, subject, extensions
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
        -keyout "$1.key" -out "$1.csr" 2>/dev/null
      printf '%s\n' "$3" >"$1.ext"
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    }
    issue server "/CN=localhost" "subjectAltName=DNS:localhost
extendedKeyUsage=serverAuth"
    issue client "/CN=modelgate_cert" "extendedKeyUsage=clientAuth"
    chmod 600 ./*.key
  )
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$tls"
  return 0
}

# Who may connect how: the TLS roles' rules before initdb's trust lines.
tls_rules() {
  local hba="$dir/data/pg_hba.conf"
  grep -q modelgate_tls "$hba" && return 0
  {
    echo "hostnossl all modelgate_tls all reject"
    echo "hostssl all modelgate_cert all cert"
    echo "hostnossl all modelgate_cert all reject"
    cat "$hba"
  } >"$hba.new"
  mv "$hba.new" "$hba"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$hba"
  return 0
}

case "${1:-start}" in
  url)
    echo "$url"
    ;;
  tls)
    echo "$tls"
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
    make_certificates
    tls_rules
    options="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/run"
    options+=" -c max_connections=300 -c ssl=on -c ssl_cert_file=$tls/server.pem"
    options+=" -c ssl_key_file=$tls/server.key -c ssl_ca_file=$tls/ca.pem"
    ready() {
      for _ in $(seq 1 50); do
        if psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qtAc 'SELECT 1' >/dev/null 2>&1; then
          return 0
        fi
        sleep 0.2
      done
    }
    if ! as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$options" \
        start >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
    fi
    ready
    # A cluster an older copy of this script started has no TLS yet.
    if [ "$(psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qtAc 'SHOW ssl')" != "on" ]; then
      as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -m fast -o "$options" \
        restart >/dev/null ||
        { cat "$dir/server.log" >&2; exit 1; }
      ready
    fi
    # The database, once.
    if [ "$(psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qtAc \
      "SELECT 1 FROM pg_database WHERE datname = 'modelgate'")" != "1" ]; then
      psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qc 'CREATE DATABASE modelgate' >/dev/null
    fi
    for role in modelgate_tls modelgate_cert; do
      if [ "$(psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qtAc \
        "SELECT 1 FROM pg_roles WHERE rolname = '$role'")" != "1" ]; then
        psql -h 127.0.0.1 -p "$port" -U modelgate -d postgres -qc "CREATE ROLE $role LOGIN SUPERUSER" >/dev/null
      fi
    done
    echo "$url"
    ;;
  *)
    echo "usage: scripts/postgres.sh start|stop|url|tls" >&2
    exit 2
    ;;
esac
