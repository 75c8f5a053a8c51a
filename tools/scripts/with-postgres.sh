#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL: a fresh cluster in a temporary folder on a free
# loopback port, stopped and deleted when the command ends (whatever its outcome). The command
# finds it in CONCIERGE_TEST_DATABASE_URL (a superuser, trust authentication, loopback only).
# Installs Debian's PostgreSQL server packages when they are missing. As root (CI), the cluster
# runs as the `postgres` user: initdb refuses to run as root.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 command [args...]" >&2; exit 64; }

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing the PostgreSQL server (postgresql)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null || {
      apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  else
    echo "error: the PostgreSQL server is not installed; install it with: sudo apt-get install postgresql" >&2
    exit 1
  fi
fi

folder=$(mktemp -d /tmp/concierge-pg.XXXXXX)
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql postgres
  chown postgres "$folder"
  as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as_owner[@]}" "$bin/pg_ctl" -D "$folder/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$folder"
}
trap stop EXIT

"${as_owner[@]}" "$bin/initdb" -D "$folder/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
  >"$folder/initdb.log" 2>&1 || { cat "$folder/initdb.log" >&2; exit 1; }
# Durable as in production (fsync on), sized for many concurrent test databases.
"${as_owner[@]}" "$bin/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w -t 60 start \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $folder -c max_connections=300 -c shared_buffers=128MB" \
  >/dev/null || { cat "$folder/server.log" >&2; exit 1; }

export CONCIERGE_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
echo "throwaway PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port" >&2
set +e
"$@"
status=$?
set -e
exit $status
