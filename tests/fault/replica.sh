#!/usr/bin/env bash
# Makes a PostgreSQL primary and a streaming replica of it on this machine (initdb, then
# pg_basebackup), each a cluster of its own on a free port, and runs the replica test
# (tests/api/replica.rs) against them; fails unless that test really ran.
#
#     bash tests/fault/replica.sh
#
# Runs the clusters as the `postgres` user (PostgreSQL refuses to run as root). Leaves
# the system's own cluster alone.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
work=$(mktemp -d /tmp/anju-replica-XXXXXX)
chmod 755 "$work"
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; fi
primary_port=$(free_port)
replica_port=$(free_port)
cleanup() {
  as_pg "$bin/pg_ctl" -D "$work/replica" -m immediate stop >/dev/null 2>&1 || true
  as_pg "$bin/pg_ctl" -D "$work/primary" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

as_pg "$bin/initdb" -D "$work/primary" -U postgres --auth=trust >/dev/null
cat >> "$work/primary/pg_hba.conf" <<HBA
host replication postgres 127.0.0.1/32 trust
HBA
as_pg "$bin/pg_ctl" -D "$work/primary" -l "$work/primary.log" -w \
  -o "-p $primary_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c wal_level=replica -c fsync=off" start >/dev/null
as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$work/replica" -R -X stream >/dev/null
as_pg "$bin/pg_ctl" -D "$work/replica" -l "$work/replica.log" -w \
  -o "-p $replica_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work -c hot_standby=on" start >/dev/null
standby=$("$bin/psql" -h 127.0.0.1 -p "$replica_port" -U postgres -d postgres -Atc 'select pg_is_in_recovery()')
if [ "$standby" != "t" ]; then
  echo "FATAL: the second cluster is not a standby" >&2
  exit 1
fi
echo "primary on $primary_port, streaming replica on $replica_port"

out=$(ANJU_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$primary_port/postgres" \
  ANJU_TEST_REPLICA_URL="postgres://postgres@127.0.0.1:$replica_port/postgres" \
  cargo test --quiet --test api replica:: -- --nocapture 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E "replica test|test result"
if ! echo "$out" | grep -q "replica test ran"; then
  echo "FATAL: the replica test did not run" >&2
  exit 1
fi
