#!/usr/bin/env bash
# Fuzz the running API against its own OpenAPI spec with schemathesis, once anonymously and
# once with a token for each staff role and an applicant: no 5xx, every status code,
# content type and response body as the spec says.
#   tests/fault/fuzz.sh <anju-binary> [examples-per-operation]
set -euo pipefail
bin="$1"
examples="${2:-15}"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
(cd "$work" && ANJU_LOG=warn ANJU_LISTEN="127.0.0.1:$port" exec "$bin" serve --demo >"$work/serve.log" 2>&1) &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -fs "$base/health/ready" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "$base/health/ready" >/dev/null || { echo "FATAL: the server did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
token() {
  curl -fs "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"anju-demo-2015\"}" | python3 -c 'import sys,json; print(json.load(sys.stdin)["token"])'
}
curl -fs "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"fuzz@nanguan.demo","password":"anju-demo-2015","display_name":"fuzz"}' >/dev/null
echo "-- anonymous"
schemathesis run "$base/openapi.json" -n "$examples" --checks "$checks" --phases examples,fuzzing --request-timeout 10 --no-color | tail -n 3
for who in admin@nanguan.demo supervisor@nanguan.demo reviewer1@nanguan.demo bureau@nanguan.demo fuzz@nanguan.demo; do
  echo "-- $who"
  schemathesis run "$base/openapi.json" -H "Authorization: Bearer $(token "$who")" -n "$examples" \
    --checks "$checks" --phases examples,fuzzing --request-timeout 10 --no-color | tail -n 3
done
echo "schemathesis: no failures"
