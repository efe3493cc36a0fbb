#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on 127.0.0.1 for the tests, and prints the export line
# for its URL. Stop it with `.ci/postgres.sh stop DIR`. Needs PostgreSQL's server binaries
# (Debian: postgresql) and, when run as root, the `postgres` user to own the cluster.
# With CANOPY_PG_TLS=DIR (holding server.crt and server.key) the cluster has `ssl = on` and
# accepts TCP connections over TLS only (`hostssl` in pg_hba.conf).
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2
  exit 1
fi

as_owner() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

if [ "${1:-}" = stop ]; then
  as_owner "'$bin/pg_ctl' -D '$2/data' stop -m fast" >/dev/null
  rm -rf "$2"
  exit 0
fi

# A free port of the loopback interface, unless one is given.
port=${CANOPY_PG_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
dir=$(mktemp -d /tmp/canopy-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
as_owner "'$bin/initdb' -D '$dir/data' -A trust -U postgres --no-sync" >/dev/null
if [ -n "${CANOPY_PG_TLS:-}" ]; then
  cp "$CANOPY_PG_TLS/server.crt" "$CANOPY_PG_TLS/server.key" "$dir/data/"
  [ "$(id -u)" = 0 ] && chown postgres "$dir/data/server.crt" "$dir/data/server.key"
  chmod 600 "$dir/data/server.key"
  printf "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n" >> "$dir/data/postgresql.conf"
  printf "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n" > "$dir/data/pg_hba.conf"
fi
as_owner "'$bin/pg_ctl' -D '$dir/data' -l '$dir/log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off\" start" >/dev/null
echo "export CANOPY_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port/postgres CANOPY_PG_DIR=$dir"
