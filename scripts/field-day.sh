#!/usr/bin/env bash
# An offline field day with the eropaf CLI, narrated for a reader who knows the work, not the
# code. Usage: scripts/field-day.sh [BUILD_DIR]   (default: build)
#
# Every "device" here is the CLI with its own store. Until the sync server is part of the run,
# the coordinator's and the coach's work happen on ONE device whose identity is switched with
# `eropaf init`; the home-care worker has a device of her own.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-build}"
[[ "$build" = /* ]] || build="$root/$build"
cli="$build/tools/eropaf/eropaf"
[[ -x "$cli" ]] || { echo "field-day: $cli is missing; run ./scripts/setup first" >&2; exit 1; }

day="$(mktemp -d "${TMPDIR:-/tmp}/eropaf-field-day.XXXXXX")"
trap 'rm -rf "$day"' EXIT
zm="$day/fatima-phone"   # zorgmedewerker
team="$day/team-tablet"  # coordinator Jan, then wijkcoach Anna

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
run() { printf '  $ eropaf %s\n' "$*" | sed "s|--home $day/||"; "$cli" "$@" | sed 's/^/    /'; }

say "08:30  Fatima (home care, zorgmedewerker) starts her round in wijk WK015301, offline."
run --home "$zm" init --worker zm-fatima --name "Fatima El Amrani" --role zorgmedewerker --wijk WK015301

say "09:10  At Dorpsstraat 12 the fridge is empty and letters from a bailiff lie unopened. She flags it in seconds."
s1=$("$cli" --home "$zm" signal add --wijk WK015301 --postcode "1234 AB" --number 12 --street Dorpsstraat \
  --city Utrecht --category schulden --category verwaarlozing --urgency hoog \
  --text "Koelkast leeg, ongeopende brieven van de deurwaarder. Mevrouw zegt dat het wel gaat." \
  --informed later)
echo "    signal $s1 saved on her phone (and in its outbox)"

say "11:40  Two doors further, neighbours complain about noise and a smell from nr. 16."
"$cli" --home "$zm" signal add --wijk WK015301 --postcode 1234AB --number 16 --street Dorpsstraat \
  --city Utrecht --category overlast --text "Buren klagen over geluid en stank, al weken." --informed yes >/dev/null
run --home "$zm" signals

say "13:00  Jan (coordinator) triages on the team tablet. (Sync between devices comes with the"
say "       server; here Jan re-types Fatima's first signal on the tablet.)"
run --home "$team" init --worker co-jan --name "Jan Visser" --role coordinator --wijk WK015301
s1t=$("$cli" --home "$team" signal add --wijk WK015301 --postcode 1234AB --number 12 --street Dorpsstraat \
  --city Utrecht --category schulden --category verwaarlozing --urgency hoog \
  --text "Koelkast leeg, ongeopende brieven van de deurwaarder (melding Fatima)." --informed later)
run --home "$team" untriaged
case_id=$("$cli" --home "$team" case open --wijk WK015301 --postcode 1234AB --number 12 --street Dorpsstraat \
  --city Utrecht --title "Mevrouw Dorpsstraat 12: schulden, zelfverwaarlozing" \
  --category dreigende_huisuitzetting --signal "$s1t")
echo "    case $case_id opened; the eviction threat sets priority acuut and first contact within 2 days"
run --home "$team" queue
run --home "$team" case assign --case "$case_id" --to wc-anna

say "14:15  Anna (wijkcoach) takes the tablet and goes to the door, in a stairwell without signal."
run --home "$team" init --worker wc-anna --name "Anna de Vries" --role wijkcoach --wijk WK015301
run --home "$team" cases
run --home "$team" visit add --case "$case_id" --outcome niet_thuis --note "Niemand thuis, post op de mat"
run --home "$team" case move --case "$case_id" --to contact_zoeken

say "16:30  Second try: the door stays shut, but the curtain moves."
run --home "$team" visit add --case "$case_id" --outcome deur_niet_geopend --note "Gordijn bewoog, briefje met 06-nummer achtergelaten"

say "18:05  Mevrouw calls back. A first conversation: she wants help with the letters."
run --home "$team" visit add --case "$case_id" --kind telefoon --outcome gesprek --note "Wil hulp bij de brieven, afspraak morgen 10:00"
run --home "$team" case move --case "$case_id" --to in_behandeling

say "18:10  Anna would like to mark it done. The state table says no: a case goes through nazorg"
say "       or a referral first, and closing is the coordinator's call, made online:"
"$cli" --home "$team" case move --case "$case_id" --to afgesloten --reason "Loopt" || true

say "End of the day: what the tablet holds"
run --home "$team" case show --case "$case_id"
run --home "$team" household --postcode 1234AB --number 12
run --home "$team" outbox
echo
echo "Fatima's phone still holds $("$cli" --home "$zm" --json outbox | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') unsent change(s); nothing is lost while offline."
