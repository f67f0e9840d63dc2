# Sourced by the CLI shell tests: counted checks and the helpers they share.
#   pass / fail MESSAGE       count a check (a failure is printed and counted)
#   expect CODE PATTERN -- command...
#                             runs it, checks the exit code and that stderr+stdout contain
#                             PATTERN
#   json EXPR                 evaluates a Python expression over the JSON on stdin (as `d`)
# The caller sets `bin` (the eropaf CLI) first; E runs it.
failures=0
checks=0

pass() { checks=$((checks + 1)); }
fail() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "FAIL: $*" >&2
}

expect() {
  local code=$1 pattern=$2
  shift 3
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  if [[ $rc -ne $code ]]; then
    fail "'$*' exited $rc, expected $code: $out"
  elif ! grep -q -- "$pattern" <<<"$out"; then
    fail "'$*' output lacks '$pattern': $out"
  else
    pass
  fi
}

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

E() { "$bin" "$@"; }
