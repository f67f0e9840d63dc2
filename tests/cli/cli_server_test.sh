#!/usr/bin/env bash
# The eropaf CLI against a real eropaf-server on loopback: devices enrolled by the administrator
# get their colleague list from the server, and the CLI's names for things hold up — short ids
# that differ for records made in the same second, every id flag taking a unique prefix of the
# id or of its short id (an ambiguous one lists the candidates), category labels in tables and
# codes in --json, `eropaf workers`, and a mis-typed assignee refused with the valid colleagues.
# Usage: cli_server_test.sh PATH/TO/eropaf PATH/TO/eropaf-server
set -euo pipefail
bin=${1:?usage: cli_server_test.sh PATH/TO/eropaf PATH/TO/eropaf-server}
server=${2:?usage: cli_server_test.sh PATH/TO/eropaf PATH/TO/eropaf-server}
work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
# A command whose output a later check needs failed: say where before set -e ends the run.
trap 'echo "FAIL: stopped at line $LINENO: $BASH_COMMAND" >&2' ERR
co="$work/co-jan"
wc="$work/wc-anna"
# shellcheck source=tests/cli/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
admin() { "$server" admin --data "$work/server" "$@"; }

# --- the server and the administrator -------------------------------------------------------
"$server" --data "$work/server" --listen 127.0.0.1:0 --quiet >"$work/out" 2>"$work/err" &
pid=$!
url=""
for _ in $(seq 1 200); do
  line="$(grep -m1 '^eropaf-server listening on ' "$work/out" || true)"
  if [[ -n "$line" ]]; then
    url="http://${line#eropaf-server listening on }"
    break
  fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
if [[ -z "$url" ]]; then
  echo "cli_server_test: eropaf-server did not start:" >&2
  cat "$work/err" >&2
  exit 1
fi
admin add-wijk WK015301 "Binnenstad" >/dev/null
admin add-wijk WK036301 "Noord" >/dev/null
admin add-worker --id co-jan --name "Jan Visser" --role coordinator --wijk WK015301 >/dev/null
admin add-worker --id wc-anna --name "Anna de Vries" --role wijkcoach --wijk WK015301 >/dev/null
admin add-worker --id wc-bram --name "Bram Jansen" --role wijkcoach --wijk WK015301 >/dev/null
admin add-worker --id zm-fatima --name "Fatima El Amrani" --role zorgmedewerker --wijk WK015301 >/dev/null
admin add-worker --id wc-far --name "Femke Noord" --role wijkcoach --wijk WK036301 >/dev/null
expect 0 "Jan Visser" -- E --home "$co" enroll --server "$url" --code "$(admin enroll-code co-jan)"
expect 0 "Anna de Vries" -- E --home "$wc" enroll --server "$url" --code "$(admin enroll-code wc-anna)"

# --- eropaf workers: the colleagues of my wijken, from the server's reference data -----------
out=$(E --home "$co" workers)
for who in "co-jan  *Jan Visser  *coordinator  *ja  *WK015301" "wc-anna  *Anna de Vries  *wijkcoach" \
  "wc-bram  *Bram Jansen" "zm-fatima  *Fatima El Amrani  *zorgmedewerker"; do
  grep -q -- "$who" <<<"$out" && pass || fail "workers lacks '$who': $out"
done
grep -q "wc-far" <<<"$out" && fail "workers shows a coach of another wijk: $out" || pass
[[ $(E --home "$co" --json workers | json '[(w["id"], w["role"], w["wijken"], w["active"]) for w in d]') == \
  "[('co-jan', 'coordinator', ['WK015301'], True), ('wc-anna', 'wijkcoach', ['WK015301'], True), ('wc-bram', 'wijkcoach', ['WK015301'], True), ('zm-fatima', 'zorgmedewerker', ['WK015301'], True)]" ]] &&
  pass || fail "workers --json: $(E --home "$co" --json workers)"
expect 0 "No colleagues known yet" -- E --home "$work/fresh" workers

# --- short ids that differ ------------------------------------------------------------------
add_signal() {
  E --home "$co" signal add --wijk WK015301 --postcode 1234AB --number "$1" --category schulden \
    --category vereenzaming --text "Post stapelt op bij nummer $1" --informed yes
}
# Two signals in a row: the first 8 digits of their ids are the same (the clock, ~65 s per
# step); make another pair in the rare case the step fell between them.
for _ in 1 2 3; do
  s1=$(add_signal 1)
  s2=$(add_signal 2)
  [[ ${s1:0:8} == "${s2:0:8}" ]] && break
done
[[ ${s1:0:8} == "${s2:0:8}" ]] && pass || fail "two signals in a row have different clock digits: $s1 $s2"
short1=${s1:24:8}
short2=${s2:24:8}
[[ $short1 != "$short2" ]] && pass || fail "the random digits of $s1 and $s2 are equal"
table=$(E --home "$co" signals)
ids=$(awk 'NR > 1 {print $1}' <<<"$table" | sort | tr '\n' ' ')
[[ $ids == "$(printf '%s\n' "$short1" "$short2" | sort | tr '\n' ' ')" ]] && pass ||
  fail "signals shows ids '$ids', expected the short ids $short1 $short2: $table"

# --- category labels in tables, codes in --json ----------------------------------------------
grep -q "Schulden, Vereenzaming" <<<"$table" && pass || fail "signals lacks the labels: $table"
grep -q "vereenzaming" <<<"$table" && fail "signals shows a category code: $table" || pass
[[ $(E --home "$co" --json signals | json 'd[0]["categories"]') == "['schulden', 'vereenzaming']" ]] &&
  pass || fail "--json signals keeps the codes"

# --- prefixes -------------------------------------------------------------------------------
# The first 8 digits of the full ids are shared: ambiguous, both listed with their short ids.
expect 1 "ambiguous" -- E --home "$co" case open --wijk WK015301 --postcode 1234AB --number 1 \
  --title "Post stapelt op" --category overlast --signal "${s1:0:8}"
out=$(E --home "$co" case open --wijk WK015301 --postcode 1234AB --number 1 --title "Post stapelt op" \
  --category overlast --signal "${s1:0:8}" 2>&1 || true)
for s in "$short1" "$short2"; do
  grep -q "^  $s  .*Schulden, Vereenzaming" <<<"$out" && pass || fail "candidate $s not listed: $out"
done
[[ $(E --home "$co" --json queue | json 'len(d)') == 0 ]] && pass || fail "an ambiguous prefix opened a case"
# A prefix of the short id resolves (here: six of its eight digits), upper case too.
case_id=$(E --home "$co" case open --wijk WK015301 --postcode 1234AB --number 1 --title "Post stapelt op" \
  --category overlast --signal "$(tr a-f A-F <<<"${short1:0:6}")")
[[ $(E --home "$co" --json signals | json '{s["id"]: s["case_id"] for s in d}["'"$s1"'"]') == "$case_id" ]] &&
  pass || fail "signal ${short1:0:6} was not linked to case $case_id"
# A prefix of the full id resolves, and so does the whole short id of the case.
[[ $(E --home "$co" --json case show --case "${case_id:0:28}" | json 'd["case"]["id"]') == "$case_id" ]] &&
  pass || fail "case show by a prefix of the full id"
[[ $(E --home "$co" --json case show --case "${case_id:24:8}" | json 'd["case"]["id"]') == "$case_id" ]] &&
  pass || fail "case show by the short id"
expect 0 "Overlast, Schulden, Vereenzaming" -- E --home "$co" queue
expect 0 "^${case_id:24:8} " -- E --home "$co" queue
expect 1 "no such case" -- E --home "$co" case show --case ffffffff-f
expect 1 "no such signal" -- E --home "$co" case link --case "$case_id" --signal ffffffff-f
expect 1 "is not an id" -- E --home "$co" case show --case "4e8b%"
expect 1 "is not an id" -- E --home "$co" case show --case "_"

# Ambiguity in the short form itself: more signals until two short ids share their first digit
# (not the first digit of the full ids, which every id shares), then that one digit.
digit=""
declare -A first
first[${short1:0:1}]=$s1
first[${short2:0:1}]=$s2
n=3
while [[ -z $digit && $n -lt 60 ]]; do
  s=$(add_signal "$n")
  n=$((n + 1))
  d=${s:24:1}
  [[ $d == "${s:0:1}" ]] && continue
  if [[ -n ${first[$d]:-} ]]; then
    digit=$d
    pair=("${first[$d]}" "$s")
  else
    first[$d]=$s
  fi
done
[[ -n $digit ]] && pass || fail "no two short ids shared a first digit in $n signals"
out=$(E --home "$co" case open --wijk WK015301 --postcode 1234AB --number 3 --title x --category overlast \
  --signal "$digit" 2>&1) && rc=0 || rc=$?
[[ $rc -eq 1 ]] && pass || fail "ambiguous short prefix '$digit' exited $rc: $out"
grep -q "ambiguous" <<<"$out" && pass || fail "ambiguous short prefix not called so: $out"
for s in "${pair[@]}"; do
  grep -q "^  ${s:24:8}  .*($s)" <<<"$out" && pass || fail "candidate $s not listed for '$digit': $out"
done

# --- assignment: only a valid colleague, and the CLI names them -------------------------------
out=$(E --home "$co" assign --case "${case_id:24:8}" --to wc-nobody 2>&1) && rc=0 || rc=$?
[[ $rc -eq 1 ]] && pass || fail "assign --to wc-nobody exited $rc: $out"
for who in "wc-anna (Anna de Vries, wijkcoach)" "wc-bram (Bram Jansen, wijkcoach)" \
  "co-jan (Jan Visser, coordinator)"; do
  grep -qF -- "$who" <<<"$out" && pass || fail "assign --to wc-nobody does not name $who: $out"
done
for who in zm-fatima wc-far; do
  grep -q -- "$who" <<<"$out" && fail "assign --to wc-nobody offers $who: $out" || pass
done
# A known colleague who may not take it: the store's refusal, with the same list.
expect 1 "Valid colleagues for WK015301: wc-anna" -- E --home "$co" assign --case "$case_id" --to zm-fatima
expect 1 "Valid colleagues for WK015301" -- E --home "$co" assign --case "$case_id" --to wc-far
[[ $(E --home "$co" --json case show --case "$case_id" | json 'd["case"]["assignee"]') == "" ]] &&
  pass || fail "a refused assignment changed the case"
out=$(E --home "$co" --json assign --case "$case_id" --to wc-nobody 2>/dev/null || true)
[[ $(json 'd["error"]["field"]' <<<"$out") == assignee ]] && pass || fail "--json refusal field: $out"
expect 0 "assigned to wc-anna" -- E --home "$co" assign --case "${case_id:24:5}" --to wc-anna
expect 0 "Synced" -- E --home "$co" sync

# --- the coach: prefixes on her own device, --corrects too ----------------------------------
# The sync summary says in words what happened to her work: a case is new and hers.
expect 0 "^New: case ${case_id:24:8} assigned to you" -- E --home "$wc" sync
expect 0 "^${case_id:24:8} " -- E --home "$wc" cases
m1=$(E --home "$wc" visit add --case "${case_id:24:6}" --outcome niet_thuis)
expect 0 "${m1:24:8}" -- E --home "$wc" case show --case "${case_id:24:6}"
m2=$(E --home "$wc" visit add --case "${case_id:24:6}" --outcome deur_niet_geopend --corrects "${m1:24:6}" \
  --note "Het was deur niet geopend")
[[ $(E --home "$wc" --json case show --case "$case_id" | json '[m["corrects_id"] for m in d["contact_moments"] if m["id"] == "'"$m2"'"]') == \
  "['$m1']" ]] && pass || fail "--corrects by a short prefix"
expect 1 "no such contact moment" -- E --home "$wc" visit add --case "$case_id" --outcome gesprek \
  --corrects ffffffff-f

# --- the sync summary's sentences: a move that became a conflict, a pick-up that lost ---------
wb="$work/wc-bram"
expect 0 "Bram Jansen" -- E --home "$wb" enroll --server "$url" --code "$(admin enroll-code wc-bram)"
# Anna moves the case while the coordinator (online) has given it to Bram meanwhile.
expect 0 "assigned to wc-bram" -- E --home "$co" assign --case "$case_id" --to wc-bram
expect 0 "Synced" -- E --home "$co" sync
expect 0 "toegewezen → contact_zoeken" -- E --home "$wc" case move --case "$case_id" --to contact_zoeken
expect 0 "^Your move toegewezen → contact_zoeken on case ${case_id:24:8} went to the coordinator's conflict list" \
  -- E --home "$wc" sync
# A queued case both coaches pick up; Bram syncs first.
queued=$(E --home "$co" case open --wijk WK015301 --postcode 1234AB --number 9 --title "Buren horen niets" \
  --category vereenzaming)
expect 0 "Synced" -- E --home "$co" sync
expect 0 "Synced" -- E --home "$wc" sync
expect 0 "Synced" -- E --home "$wb" sync
expect 0 "picked up" -- E --home "$wc" case pickup --case "$queued"
expect 0 "picked up" -- E --home "$wb" case pickup --case "$queued"
expect 0 "Synced" -- E --home "$wb" sync
expect 0 "^Case ${queued:24:8} was picked up by another coach first" -- E --home "$wc" sync
[[ $(E --home "$wc" --json sync | json 'd["notices"]') == "[]" ]] && pass ||
  fail "a second sync repeats the sentences"

# --- triage: hints, reject, duplicate, merge, open from a signal, the overview ----------------
zm="$work/zm-fatima"
expect 0 "Fatima El Amrani" -- E --home "$zm" enroll --server "$url" --code "$(admin enroll-code zm-fatima)"
# No --wijk: Fatima works in one wijk.
t1=$(E --home "$zm" signal add --postcode 1234AB --number 40 --category schulden --text "Brieven deurwaarder" \
  --informed later --urgency hoog)
t2=$(E --home "$zm" signal add --postcode 1234AB --number 40 --category schulden --text "Weer brieven" --informed later)
junk=$(E --home "$zm" signal add --postcode 1234AB --number 41 --category overig --text "Test, graag negeren" \
  --informed yes)
expect 1 "unknown wijk 'WK999999'; valid: WK015301 (Binnenstad), WK036301 (Noord)" -- \
  E --home "$zm" signal add --wijk WK999999 --postcode 1234AB --number 42 --category overig --text x --informed yes
expect 0 "Synced: 3 change" -- E --home "$zm" sync
expect 0 "Synced" -- E --home "$co" sync
out=$(E --home "$co" untriaged)
grep -q "^  ${t1:24:8}: zelfde huishouden: 1 signaal < 12 wk" <<<"$out" && pass || fail "untriaged hint for $t1: $out"
# Urgency first: the hoog signal leads the list.
[[ $(E --home "$co" --json untriaged | json 'd[0]["id"]') == "$t1" ]] && pass || fail "untriaged not by urgency: $out"
expect 0 "rejected" -- E --home "$co" signal reject --signal "${junk:24:8}" --reason "Testmelding van Fatima zelf"
case_t=$(E --home "$co" case open --from-signal "${t1:24:8}" --title "Schulden nr 40")
expect 1 "already has an open case ${case_t:24:8}" -- E --home "$co" case open --from-signal "$t2"
second=$(E --home "$co" case open --from-signal "$t2" --new-case --title "Per ongeluk dubbel")
expect 0 "merged into case ${case_t:24:8}" -- E --home "$co" case merge --case "$second" --into "$case_t" \
  --reason "Zelfde huishouden"
[[ $(E --home "$co" --json case show --case "$case_t" | json 'sorted(s["id"] for s in d["signals"])') == \
  "$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "$t1" "$t2")" ]] && pass || fail "the merged case's signal did not follow"
# The server writes the resolution code when it applies the close (docs/triage.md).
expect 0 "Synced" -- E --home "$co" sync
got=$(E --home "$co" --json case show --case "$second" | json '(d["case"]["state"], d["case"]["resolution_code"], d["case"]["merged_into"])')
[[ $got == "('afgesloten', 'samengevoegd', '$case_t')" ]] && pass || fail "the source case is not closed as samengevoegd: $got"
# Linking a signal of another household needs --force and a reason.
other=$(E --home "$zm" signal add --postcode 1234AB --number 50 --category schulden --text "Buurman" --informed yes)
expect 0 "Synced" -- E --home "$zm" sync
expect 0 "Synced" -- E --home "$co" sync
expect 1 "another household.*--force --reason TEXT" -- E --home "$co" case link --signal "$other" --case "$case_t"
expect 0 "linked" -- E --home "$co" case link --signal "$other" --case "$case_t" --force --reason "Zoon woont op 50"
expect 0 "Synced" -- E --home "$co" sync
left=$(E --home "$co" --json untriaged | json '[s["id"] for s in d]')
for s in "$t1" "$t2" "$junk" "$other"; do
  grep -q "$s" <<<"$left" && fail "signal $s is still untriaged" || pass
done
# The reporter sees afgewezen, never the reason; linked signals without the case id.
expect 0 "Synced" -- E --home "$zm" sync
[[ $(E --home "$zm" --json signals | json '{s["id"]: (s["triage_state"], s["triage_reason"], s["case_id"]) for s in d}["'"$junk"'"]') == \
  "('afgewezen', '', '')" ]] && pass || fail "the reporter's view of a rejected signal: $(E --home "$zm" --json signals)"
# The overview: every open case of the wijk, assigned or not; a week on, the unvisited ones are late.
out=$(E --home "$co" overview)
grep -q "^${case_t:24:8} .*Schulden nr 40" <<<"$out" && pass || fail "overview lacks ${case_t:24:8}: $out"
grep -q "^${case_id:24:8} .*Bram Jansen" <<<"$out" && pass || fail "overview lacks the assigned case with its coach: $out"
grep -q "^${second:24:8} " <<<"$out" && fail "overview shows the closed case: $out" || pass
later=$(date -d '+30 days' '+%Y-%m-%dT%H:%M')
out=$(E --home "$co" overview --at "$later" --overdue)
grep -q "^${case_t:24:8} .*TE LAAT" <<<"$out" && pass || fail "overview --at +30 d: $out"
[[ $(E --home "$co" --json overview --at "$later" | json 'd["rows"][0]["overdue"]') == True ]] && pass ||
  fail "overdue first"
expect 1 "PERMISSION_DENIED" -- E --home "$wc" overview

# The results report from the admin CLI: aggregates only, in JSON, CSV and a table.
from=$(date -d '-1 day' '+%F')
to=$(date -d '+1 day' '+%F')
rep=$(admin report --from "$from" --to "$to" --wijk WK015301 --json)
[[ $(json 'd["wijken"]' <<<"$rep") == "['WK015301']" ]] && pass || fail "report wijken: $rep"
total=$(json '[r["value"] for r in d["rows"] if r["section"] == "signalen" and r["key"] == "totaal"][0]' <<<"$rep")
[[ -n "$total" && "$total" != "0" ]] && pass || fail "report has no signals: $rep"
csv=$(admin report --from "$from" --to "$to" --csv)
[[ $(head -1 <<<"$csv") == "section,key,label,value" ]] && pass || fail "report csv header: $csv"
grep -q "^afsluitingen,samengevoegd,Samengevoegd," <<<"$csv" && pass || fail "report csv: $csv"
text=$(admin report --from "$from" --to "$to")
for leak in "$case_t" "$case_id" "$second" "$t1" "$t2" "$junk" "$other" "Jan Visser" "Anna de Vries" \
  "Bram Jansen" "Fatima El Amrani" "co-jan" "wc-anna" "zm-fatima" "1234AB" "Buurman"; do
  for out in "$rep" "$csv" "$text"; do
    grep -qF -- "$leak" <<<"$out" && fail "the report shows '$leak'" || pass
  done
done
expect 1 "from '2026-02-30' is not a date" -- admin report --from 2026-02-30 --to "$to"
expect 1 "to is before from" -- admin report --from "$to" --to "$from"
expect 1 "unknown wijk WK099999" -- admin report --from "$from" --to "$to" --wijk WK099999
expect 2 "not both" -- admin report --from "$from" --to "$to" --json --csv
expect 2 "unknown report argument" -- admin report --from "$from" --to "$to" --week

echo "cli with server: $checks checks, $failures failed"
[[ $failures -eq 0 ]] || exit 1
