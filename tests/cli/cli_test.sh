#!/usr/bin/env bash
# The eropaf CLI end to end: a coordinator and a coach on their own devices (separate homes),
# every list, and every error path with its exit code and a message that names the problem.
# Usage: cli_test.sh PATH/TO/eropaf
set -euo pipefail
bin=${1:?usage: cli_test.sh PATH/TO/eropaf}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
co="$work/coordinator"
wc="$work/coach"
# shellcheck source=tests/cli/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# --- set up two devices -------------------------------------------------------------------
expect 0 "co-jan" -- E --home "$co" init --worker co-jan --name "Jan Visser" --role coordinator --wijk WK015301
expect 0 "wc-anna" -- E --home "$wc" init --worker wc-anna --name "Anna de Vries" --role wijkcoach --wijk WK015301
[[ $(stat -c %a "$co/device.key") == 600 ]] && pass || fail "key file is not mode 600"
[[ $(stat -c %s "$co/device.key") == 32 ]] && pass || fail "key file is not 32 bytes"
[[ $(E --home "$co" --json whoami | json 'd["role"]') == coordinator ]] && pass || fail whoami

# --- the coordinator triages ----------------------------------------------------------------
sig=$(E --home "$co" signal add --wijk WK015301 --postcode "1234 ab" --number 12 --street Dorpsstraat \
  --city Utrecht --category schulden --category vereenzaming --urgency hoog \
  --text "Brieven van de deurwaarder, gordijnen dicht" --informed later --observed-at 2026-11-20T10:15)
[[ $sig =~ ^[0-9a-f-]{36}$ ]] && pass || fail "signal add did not print an id: $sig"
[[ $(E --home "$co" --json untriaged | json 'len(d)') == 1 ]] && pass || fail "untriaged count"
case_id=$(E --home "$co" --json case open --wijk WK015301 --postcode 1234AB --number 12 --street Dorpsstraat \
  --city Utrecht --title "Huurachterstand, deurwaarder" --category dreigende_huisuitzetting --signal "$sig" |
  json 'd["id"]')
low=$(E --home "$co" case open --wijk WK015301 --postcode 1234AB --number 14 --title "Overlast trap" --category overlast)
[[ $(E --home "$co" --json queue | json '[c["id"] for c in d] == ["'"$case_id"'", "'"$low"'"]') == True ]] &&
  pass || fail "queue order: acuut before normaal"
[[ $(E --home "$co" --json untriaged | json 'len(d)') == 0 ]] && pass || fail "signal still untriaged"
[[ $(E --home "$co" --json case show --case "$case_id" | json 'sorted(d["case"]["categories"])') == \
  "['dreigende_huisuitzetting', 'schulden', 'vereenzaming']" ]] && pass || fail "categories united"
expect 0 "assigned to wc-anna" -- E --home "$co" case assign --case "$case_id" --to wc-anna
expect 0 "priority laag" -- E --home "$co" case priority --case "$low" --to laag --reason "geen haast"
expect 0 "7 change(s) not yet accepted" -- E --home "$co" outbox
# signal, case, link, second case, assignment, its transition, priority: one row per change
[[ $(E --home "$co" --json outbox | json 'len(d)') == 7 ]] && pass || fail "one outbox row per change (7)"

# --- the coach works its own copy of the case (no sync yet: the coordinator's device holds it)
# Until sync exists, the coach's flow runs on the coordinator's home with the coach identity.
expect 0 "wc-anna" -- E --home "$co" init --worker wc-anna --name "Anna de Vries" --role wijkcoach --wijk WK015301
[[ $(E --home "$co" --json cases | json 'd[0]["id"]') == "$case_id" ]] && pass || fail "my cases"
expect 0 "" -- E --home "$co" visit add --case "$case_id" --outcome niet_thuis
expect 0 "" -- E --home "$co" visit add --case "$case_id" --outcome deur_niet_geopend --note "Licht aan, niemand opent"
expect 0 "contact_zoeken" -- E --home "$co" case move --case "$case_id" --to contact_zoeken
expect 0 "in_behandeling" -- E --home "$co" case move --case "$case_id" --to in_behandeling
[[ $(E --home "$co" --json case show --case "$case_id" | json '[m["outcome"] for m in d["contact_moments"]]') == \
  "['niet_thuis', 'deur_niet_geopend']" ]] && pass || fail "contact moments listed in order"
[[ $(E --home "$co" --json household --postcode 1234ab --number 12 | json 'len(d["signals"]), len(d["cases"]), len(d["contact_moments"])') == \
  "1 1 2" ]] && pass || fail "household view"

# --- every error path -----------------------------------------------------------------------
expect 1 "UNKNOWN_CATEGORY.*geldzorgen" -- E --home "$wc" signal add --wijk WK015301 --postcode 1234AB --number 1 \
  --category geldzorgen --text x --informed yes
expect 1 "REQUIRED_FIELD_MISSING.*text" -- E --home "$wc" signal add --wijk WK015301 --postcode 1234AB --number 1 \
  --category schulden --text "" --informed yes
long=$(head -c 4001 /dev/zero | tr '\0' x)
expect 1 "TEXT_TOO_LONG.*4001" -- E --home "$wc" signal add --wijk WK015301 --postcode 1234AB --number 1 \
  --category schulden --text "$long" --informed yes
expect 1 "INVALID_UTF8" -- E --home "$wc" signal add --wijk WK015301 --postcode 1234AB --number 1 \
  --category schulden --text "$(printf 'kapot \xff')" --informed yes
expect 1 "postcode" -- E --home "$wc" signal add --wijk WK015301 --postcode 0123AB --number 1 \
  --category schulden --text x --informed yes
expect 1 "TRANSITION_NOT_ALLOWED.*wijkcoach may not" -- E --home "$co" case move --case "$case_id" --to geannuleerd --reason stop
expect 1 "REASON_REQUIRED" -- E --home "$co" case move --case "$case_id" --to wacht
expect 1 "TRANSITION_NOT_ALLOWED.*no transition" -- E --home "$co" case move --case "$case_id" --to afgesloten --reason x
expect 1 "NOT_FOUND" -- E --home "$co" case show --case 01a202a8-0000-7000-8000-000000000000
expect 2 "unknown command" -- E --home "$co" frobnicate
expect 2 "unknown flag --color" -- E --home "$co" cases --color red
expect 2 "not one of" -- E --home "$co" case move --case "$case_id" --to klaar
expect 2 "--case is required" -- E --home "$co" case move --to wacht
expect 2 "needs a value" -- E --home "$co" case show --case
out=$(E --home "$co" --json case move --case "$case_id" --to wacht 2>/dev/null || true)
[[ $(json 'd["error"]["code"]' <<<"$out") == REASON_REQUIRED ]] && pass || fail "--json error object: $out"
# nothing refused went into the outbox
[[ $(E --home "$wc" --json outbox | json 'len(d)') == 0 ]] && pass || fail "refused writes left outbox rows"

# a wrong key file is refused, not silently replaced
bad="$work/badkey"
mkdir -p "$bad" && head -c 16 /dev/urandom >"$bad/device.key"
expect 3 "32 bytes" -- E --home "$bad" whoami
# the right size but another key: the store will not open
cp "$co/device.db" "$bad/device.db"
head -c 32 /dev/urandom >"$bad/device.key"
expect 3 "CRYPTO" -- E --home "$bad" cases

echo "cli end to end: $checks checks, $failures failed"
[[ $failures -eq 0 ]]
