#!/usr/bin/env bash
# Runs a command against a real eropaf-server on loopback (port 0, data in a temporary folder).
#
# Usage: with_server.sh SERVER_BIN COMMAND [ARG...]
#
# Before COMMAND runs, wijk WK015301 and six workers exist (zm-1, a zorgmedewerker,
# without a code: a colleague no case may be assigned to), each with a one-time enrollment
# code, exported as:
#   EROPAF_TEST_URL        http://127.0.0.1:PORT
#   EROPAF_TEST_CODE_CO1   coordinator co-1
#   EROPAF_TEST_CODE_CO2   coordinator co-2
#   EROPAF_TEST_CODE_WC1   wijkcoach wc-1
#   EROPAF_TEST_CODE_CO3   coordinator co-3 (the triage tests)
#   EROPAF_TEST_CODE_WC2   wijkcoach wc-2 (the triage tests)
# The server is stopped (SIGTERM) afterwards; the exit status is COMMAND's.
set -euo pipefail

server="$1"
shift
dir="$(mktemp -d "${TMPDIR:-/tmp}/eropaf-bindings.XXXXXX")"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

admin() { "$server" admin --data "$dir/data" "$@"; }

"$server" --data "$dir/data" --listen 127.0.0.1:0 --quiet >"$dir/out" 2>"$dir/err" &
pid=$!
url=""
for _ in $(seq 1 200); do
  line="$(grep -m1 '^eropaf-server listening on ' "$dir/out" || true)"
  if [[ -n "$line" ]]; then
    url="http://${line#eropaf-server listening on }"
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then break; fi
  sleep 0.05
done
if [[ -z "$url" ]]; then
  echo "with_server.sh: eropaf-server did not start:" >&2
  cat "$dir/err" >&2
  exit 1
fi

admin add-wijk WK015301 "Wijk 01 Centrum" >/dev/null
admin add-worker --id co-1 --name "Coordinator Een" --role coordinator --wijk WK015301 >/dev/null
admin add-worker --id co-2 --name "Coordinator Twee" --role coordinator --wijk WK015301 >/dev/null
admin add-worker --id wc-1 --name "Coach Een" --role wijkcoach --wijk WK015301 >/dev/null
admin add-worker --id co-3 --name "Coordinator Drie" --role coordinator --wijk WK015301 >/dev/null
admin add-worker --id wc-2 --name "Coach Twee" --role wijkcoach --wijk WK015301 >/dev/null
admin add-worker --id zm-1 --name "Zorg Een" --role zorgmedewerker --wijk WK015301 >/dev/null
EROPAF_TEST_URL="$url"
EROPAF_TEST_CODE_CO1="$(admin enroll-code co-1)"
EROPAF_TEST_CODE_CO2="$(admin enroll-code co-2)"
EROPAF_TEST_CODE_WC1="$(admin enroll-code wc-1)"
EROPAF_TEST_CODE_CO3="$(admin enroll-code co-3)"
EROPAF_TEST_CODE_WC2="$(admin enroll-code wc-2)"
export EROPAF_TEST_URL EROPAF_TEST_CODE_CO1 EROPAF_TEST_CODE_CO2 EROPAF_TEST_CODE_WC1 \
  EROPAF_TEST_CODE_CO3 EROPAF_TEST_CODE_WC2

set +e
"$@"
rc=$?
set -e
exit "$rc"
