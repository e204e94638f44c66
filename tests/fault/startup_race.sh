#!/usr/bin/env bash
# Three `anju serve` started at the same moment on one empty PostgreSQL database, five
# times: every instance must come up (ready), with one bootstrap admin.
#   ANJU_TEST_RACE_POSTGRES_URL=postgres://postgres@127.0.0.1:5432 tests/fault/startup_race.sh <anju-binary>
set -euo pipefail
bin="$1"
base="${ANJU_TEST_RACE_POSTGRES_URL:?}"
for trial in 1 2 3 4 5; do
  db="anju_race_$$_$trial"
  psql "$base/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  pids=() ports=()
  for i in 1 2 3; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    ports+=("$port")
    ANJU_DATABASE_URL="$base/$db" ANJU_LISTEN="127.0.0.1:$port" ANJU_LOG=warn \
      ANJU_BOOTSTRAP_ADMIN_LOGIN=admin@example.org ANJU_BOOTSTRAP_ADMIN_PASSWORD=a-long-password \
      "$bin" serve >"/tmp/race_$$_$i.log" 2>&1 &
    pids+=("$!")
  done
  for i in 0 1 2; do
    up=""
    for _ in $(seq 1 150); do
      if curl -fs "http://127.0.0.1:${ports[$i]}/health/ready" >/dev/null 2>&1; then up=1; break; fi
      if ! kill -0 "${pids[$i]}" 2>/dev/null; then break; fi
      sleep 0.2
    done
    if [ -z "$up" ]; then
      echo "FATAL: trial $trial: instance $((i + 1)) did not come up" >&2
      cat "/tmp/race_$$_$((i + 1)).log" >&2
      kill "${pids[@]}" 2>/dev/null || true
      exit 1
    fi
  done
  admins=$(psql "$base/$db" -Atc "select count(*) from user_account where role = 'admin'")
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null || true
  psql "$base/postgres" -qc "DROP DATABASE $db"
  if [ "$admins" != 1 ]; then echo "FATAL: trial $trial: $admins admins" >&2; exit 1; fi
  echo "trial $trial: all three instances ready, one admin"
done
rm -f /tmp/race_$$_*.log
