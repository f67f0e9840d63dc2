#!/usr/bin/env bash
# A field day with eropaf, narrated for a reader who knows the work, not the code.
# Usage: scripts/field-day.sh [BUILD_DIR]   (default: build)
#
# It starts eropaf-server on loopback with a fresh data directory (no config file), lets the
# administrator enroll four workers, and plays their day with the eropaf CLI as their phones:
# offline work in stairwells, syncs, two conflicting edits, and the coordinator's queue and
# conflict list at the end. Every device keeps its own encrypted store.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build}"
[[ "$build" = /* ]] || build="$root/$build"
cli="$build/tools/eropaf/eropaf"
server="$build/sync-server/eropaf-server"
for bin in "$cli" "$server"; do
  [[ -x "$bin" ]] || { echo "field-day: $bin is missing; run ./scripts/setup first" >&2; exit 1; }
done

day="$(mktemp -d "${TMPDIR:-/tmp}/eropaf-field-day.XXXXXX")"
server_pid=""
cleanup() {
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$day"
}
trap cleanup EXIT

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
# run WHO ARGS...: one CLI call on WHO's phone, shown as the worker would type it.
run() {
  local who=$1
  shift
  printf '  %s$ eropaf %s\n' "$who" "$*"
  "$cli" --home "$day/$who" "$@" 2>&1 | sed 's/^/      /'
}
# refused WHO ARGS...: a call the CLI is expected to refuse (exit 1), shown like run.
refused() {
  local who=$1
  shift
  printf '  %s$ eropaf %s\n' "$who" "$*"
  if "$cli" --home "$day/$who" "$@" >"$day/refused.out" 2>&1; then
    echo "field-day: expected a refusal, got success: eropaf $*" >&2
    exit 1
  fi
  sed 's/^/      /' "$day/refused.out"
}
quiet() { local who=$1; shift; "$cli" --home "$day/$who" "$@"; }
admin() { "$server" admin --data "$day/server" "$@"; }

say "07:45  The server starts with no configuration: data in a fresh folder, listening on loopback."
"$server" --data "$day/server" --listen 127.0.0.1:0 --quiet >"$day/server.out" 2>"$day/server.err" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$day/server.out" 2>/dev/null && break
  sleep 0.05
done
url="http://$(sed -n 's/^eropaf-server listening on //p' "$day/server.out")"
[[ "$url" != "http://" ]] || { echo "field-day: the server did not start:"; cat "$day/server.err"; exit 1; }
echo "      $(cat "$day/server.out")"

say "07:50  The administrator (functioneel beheer) sets up wijk WK015301 and enrolls four workers."
admin add-wijk WK015301 "Binnenstad" | sed 's/^/      /'
admin add-worker --id co-jan --name "Jan Visser" --role coordinator --wijk WK015301 | sed 's/^/      /'
admin add-worker --id wc-anna --name "Anna de Vries" --role wijkcoach --wijk WK015301 | sed 's/^/      /'
admin add-worker --id wc-bram --name "Bram Jansen" --role wijkcoach --wijk WK015301 | sed 's/^/      /'
admin add-worker --id zm-fatima --name "Fatima El Amrani" --role zorgmedewerker --wijk WK015301 | sed 's/^/      /'
for who in co-jan wc-anna wc-bram zm-fatima; do
  code=$(admin enroll-code "$who")
  echo "      one-time code for $who: $code"
  run "$who" enroll --server "$url" --code "$code" --name "phone of $who"
done

say "09:10  Fatima (home care) finds an empty fridge and unopened bailiff letters at Dorpsstraat 12."
s1=$(quiet zm-fatima signal add --wijk WK015301 --postcode "1234 AB" --number 12 --street Dorpsstraat \
  --city Utrecht --category schulden --category verwaarlozing --urgency hoog \
  --text "Koelkast leeg, ongeopende brieven van de deurwaarder. Mevrouw zegt dat het wel gaat." \
  --informed later)
echo "      signal ${s1:24:8}… saved on her phone, offline"
say "11:40  Two doors further, neighbours complain about noise and a smell from nr. 16."
quiet zm-fatima signal add --wijk WK015301 --postcode 1234AB --number 16 --street Dorpsstraat --city Utrecht \
  --category overlast --text "Buren klagen over geluid en stank, al weken." --informed yes >/dev/null
say "11:50  Trying out the new app, she also files a test signal."
junk=$(quiet zm-fatima signal add --postcode 1234AB --number 1 --category overig \
  --text "Test van de nieuwe app, graag negeren" --informed yes)
echo "      signal ${junk:24:8}… (no --wijk: Fatima works in one wijk)"
run zm-fatima signals
say "12:30  Back in signal range, her phone syncs."
run zm-fatima sync
say "12:40  Bram (wijkcoach), passing nr. 12, hears from the neighbour that mevrouw stays indoors."
s3=$(quiet wc-bram signal add --postcode 1234AB --number 12 --category vereenzaming \
  --text "Buurvrouw zegt dat mevrouw al dagen niet buiten komt." --informed later)
echo "      signal ${s3:24:8}…"
run wc-bram sync

say "13:00  Jan (coordinator) syncs: new signals wait for triage; two are about the same household."
run co-jan sync
run co-jan untriaged
echo "      - The test signal is junk: Jan rejects it. Fatima will see 'afgewezen', not his reason."
run co-jan signal reject --signal "$junk" --reason "Testmelding bij ingebruikname"
s2=$(quiet co-jan --json untriaged | python3 -c 'import json,sys; print([s["id"] for s in json.load(sys.stdin) if s["address"]["house_number"]=="16"][0])')
case_a=$(quiet co-jan case open --wijk WK015301 --postcode 1234AB --number 12 --street Dorpsstraat --city Utrecht \
  --title "Mevrouw Dorpsstraat 12: schulden, zelfverwaarlozing" --category dreigende_huisuitzetting --signal "$s1")
case_b=$(quiet co-jan case open --wijk WK015301 --postcode 1234AB --number 16 --street Dorpsstraat --city Utrecht \
  --title "Overlast en stank Dorpsstraat 16" --category overlast --signal "$s2")
echo "      case ${case_a:24:8}… (eviction threat: priority acuut, first contact within 2 days)"
echo "      case ${case_b:24:8}… (overlast), left in the queue for a coach to pick up"
echo "      - Bram's signal says the same about nr. 12: a duplicate, it joins case A."
run co-jan signal duplicate --signal "$s3" --of "$s1"
echo "      - A typo in the coach's id is refused, with the colleagues who can take it."
refused co-jan assign --case "$case_a" --to wc-ana
run co-jan assign --case "$case_a" --to wc-anna
run co-jan untriaged
run co-jan sync

say "14:00  Anna syncs and gets the whole case; Bram sees case B in the queue, without personal detail."
run wc-anna sync
run wc-anna cases
run wc-bram sync
run wc-bram queue

say "14:15  Anna at the door, in a stairwell without signal."
run wc-anna visit add --case "$case_a" --outcome niet_thuis --note "Niemand thuis, post op de mat"
run wc-anna case move --case "$case_a" --to contact_zoeken
run wc-anna visit add --case "$case_a" --outcome deur_niet_geopend --note "Gordijn bewoog, briefje met 06-nummer achtergelaten"
say "15:30  Mevrouw calls back; Anna starts working with her, and syncs on the way out."
run wc-anna visit add --case "$case_a" --kind telefoon --outcome gesprek --note "Wil hulp bij de brieven"
run wc-anna case move --case "$case_a" --to in_behandeling
run wc-anna sync

say "16:00  Two things happen at once, without a connection between them:"
echo "      - Anna, offline again, puts case A on hold: she waits for the debt counsellor."
run wc-anna case move --case "$case_a" --to wacht --reason "Wacht op intake schuldhulpverlening"
echo "      - Jan, at his desk, refers the same case to social work."
run co-jan sync
run co-jan case move --case "$case_a" --to doorverwezen --reason "Doorverwezen naar maatschappelijk werk"
echo "      - Anna and Bram both pick up case B from the queue, each offline."
run wc-anna case pickup --case "$case_b"
run wc-bram case pickup --case "$case_b"

say "17:30  Everyone syncs. Nothing anyone wrote is lost; contradictions go to Jan's conflict list."
run co-jan sync
run wc-bram sync
run wc-anna sync
run co-jan sync
run zm-fatima sync

say "17:45  Fatima sees only that her signals were picked up — not the case files."
run zm-fatima signals

say "18:00  Jan's queue and conflict list"
run co-jan queue
run co-jan conflicts

say "18:10  Jan resolves the conflict on case A: the referral stands."
run co-jan resolve --case "$case_a" --reason "Doorverwijzing gaat voor; Anna volgt de schuldhulp mee op"
run co-jan sync
run co-jan conflicts
run wc-anna sync
run wc-anna case show --case "$case_a"

say "18:20  Jan's overview: every open case of the wijk, assigned or not, with its norms."
run co-jan overview
later=$(date -d '+21 days' '+%Y-%m-%dT%H:%M')
echo "      - And three weeks on, if nobody rings Bram's doorbell at nr. 16 (the tests advance a"
echo "        clock; here the overview judges the norms at a later time):"
run co-jan overview --at "$later"
run co-jan untriaged

say "End of the day"
echo "      Outboxes: $(for w in co-jan wc-anna wc-bram zm-fatima; do printf '%s %s  ' "$w" "$(quiet "$w" --json outbox | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"; done)"
echo "      Server: $(curl -s "$url/v1/health" 2>/dev/null || echo '(curl not installed)')"

say "The coordinator's console: Jan's day in a browser"
# A demo login only: this password and TOTP secret exist in this throwaway server alone.
demo_password="eropaf-demo-wachtwoord"
console_code=$(admin enroll-code co-jan)
setup=$(curl -s -X POST -H 'Content-Type: application/json' \
  --data "{\"code\":\"$console_code\",\"password\":\"$demo_password\"}" "$url/v1/console/setup")
secret=$(printf '%s' "$setup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["totp_secret"])') ||
  { echo "console setup failed: $setup" >&2; exit 1; }
totp_now() { python3 "$root/scripts/totp.py" "$secret"; }
echo "      Console:    $url/console/"
echo "      Medewerker: co-jan"
echo "      Wachtwoord: $demo_password"
echo "      TOTP secret (for an authenticator app): $secret"
echo "      Code now:   $(totp_now)   (a new one every 30 s: scripts/totp.py $secret)"
if [[ -t 0 && -t 1 ]]; then
  echo "      The server keeps running for the browser; press Enter to stop it."
  read -r _
else
  echo "      (not on a terminal: the server stops now; run scripts/field-day.sh on a terminal to keep it)"
fi
