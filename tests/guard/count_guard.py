#!/usr/bin/env python3
"""Guard: every Catch2 test case of eropaf_tests is a CTest test, and every CTest test of
eropaf_tests runs exactly one test case.

Catch2 v2 reads ';' and ',' in a test spec as separators, so a test name with ';' once became
fragments that matched nothing, printed "No tests ran" and passed. This guard fails when
  - a test case name contains ';' (CMake splits it into list elements),
  - the number of (non-hidden) Catch2 test cases differs from the number of CTest entries that
    run eropaf_tests, or
  - a CTest entry's name is not one of the Catch2 test cases.
  - a browser check (tests/browser/console_browser.py) has no CTest entry, or back.

Usage: count_guard.py <eropaf_tests executable> <ctest executable> <build dir>
"""
import json
import subprocess
import sys


def main() -> int:
    exe, ctest, build_dir = sys.argv[1:4]
    listed = subprocess.run([exe, "--list-test-names-only"], capture_output=True, text=True,
                            check=False).stdout.splitlines()
    cases = [n for n in (line.strip() for line in listed) if n]
    shown = subprocess.run([ctest, "--test-dir", build_dir, "--show-only=json-v1"],
                           capture_output=True, text=True, check=True).stdout
    entries = [t["name"] for t in json.loads(shown)["tests"]
               if any(part.endswith("/eropaf_tests") for part in t.get("command", [])[:2])]
    problems = []
    for name in cases:
        if ";" in name:
            problems.append(f"test case name contains ';': {name!r}")
    missing = sorted(set(cases) - set(entries))
    extra = sorted(set(entries) - set(cases))
    for name in missing:
        problems.append(f"Catch2 test case without a CTest entry: {name!r}")
    for name in extra:
        problems.append(f"CTest entry that names no Catch2 test case: {name!r}")
    if len(cases) != len(entries):
        problems.append(f"{len(cases)} Catch2 test cases but {len(entries)} CTest entries")
    if len(cases) == 0:
        problems.append("eropaf_tests lists no test case")
    # The browser checks: every check_* of console_browser.py has its CTest entry, and back.
    browser = [t for t in json.loads(shown)["tests"] if t["name"].startswith("browser.")]
    if browser:
        cmd = browser[0]["command"]
        script = next(part for part in cmd if part.endswith("console_browser.py"))
        known = subprocess.run([cmd[0], script, "--build", build_dir, "--list"], capture_output=True,
                               text=True, check=True).stdout.split()
        named = [t["name"][len("browser."):] for t in browser]
        for name in sorted(set(known) - set(named)):
            problems.append(f"browser check without a CTest entry: {name!r}")
        for name in sorted(set(named) - set(known)):
            problems.append(f"CTest entry that names no browser check: {name!r}")
    for p in problems:
        print("count guard:", p)
    print(f"count guard: {len(cases)} Catch2 test cases, {len(entries)} CTest entries")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
