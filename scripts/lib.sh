# Shared helpers for scripts/setup, scripts/run and scripts/test. Sourced, never run.
#
# Promises: EROPAF_ROOT is the repository root (absolute); every helper prints to stderr for
# progress and dies with a one-line "error:" message, so a script's stdout stays its own.
# shellcheck shell=bash

EROPAF_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export EROPAF_ROOT

# The Debian bookworm packages eropaf builds and tests with.
# shellcheck disable=SC2034  # used by scripts/setup
EROPAF_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git python3 curl
  libsqlite3-dev sqlite3 libprotobuf-dev protobuf-compiler
  libboost-dev libboost-system-dev libcurl4-openssl-dev libsodium-dev libssl-dev
  catch2 clang-format clang-tidy
  openjdk-17-jdk-headless junit4 libprotobuf-java
  libjs-chart.js chromium chromium-driver python3-selenium
)
# npm installs the browser tests' axe-core (tests/browser/package-lock.json); Debian's npm only
# where no npm is on PATH (a Node.js from elsewhere brings its own, and Debian's would clash).
if ! command -v npm >/dev/null 2>&1; then
  EROPAF_PACKAGES+=(npm)
fi

EROPAF_SCRIPT_START=$SECONDS

# phase <text>: a banner for one step, so a log shows where a failure happened.
phase() {
  printf '\n==> [%s +%ss] %s\n' "$(basename "$0")" "$((SECONDS - EROPAF_SCRIPT_START))" "$*" >&2
}

note() { printf '    %s\n' "$*" >&2; }

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# A path relative to the repository root unless it is absolute.
eropaf_abs_dir() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$EROPAF_ROOT" "$1" ;;
  esac
}

# Parallel jobs for builds: JOBS when set, else every core (2 on the reference machine).
eropaf_jobs() {
  if [[ -n "${JOBS:-}" ]]; then
    printf '%s\n' "$JOBS"
  else
    nproc 2>/dev/null || echo 2
  fi
}

# "ON" when the value reads as true (ON, 1, true, yes), "OFF" otherwise.
eropaf_bool() {
  case "${1,,}" in
    on | 1 | true | yes) echo ON ;;
    *) echo OFF ;;
  esac
}

# eropaf_configure <build_dir> <build_type> [extra cmake args...]
# Ninja, ccache as compiler launcher (when installed). Optional parts (tools/, bench/) are
# switched on when their folder exists and off, with a note, while it does not yet; extra
# args come last, so a caller's -DEROPAF_BUILD_BENCH=OFF wins.
eropaf_configure() {
  local dir="$1" type="$2"
  shift 2
  command -v cmake >/dev/null || die "cmake is not installed: run ./scripts/setup"
  command -v ninja >/dev/null || die "ninja is not installed: run ./scripts/setup"

  local cache="$dir/CMakeCache.txt"
  if [[ -f "$cache" ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$cache"; then
    die "$dir was configured with another generator than Ninja; remove it (rm -rf '$dir') and run again"
  fi

  local args=(-S "$EROPAF_ROOT" -B "$dir" -G Ninja "-DCMAKE_BUILD_TYPE=$type")
  if command -v ccache >/dev/null; then
    # Relative paths in the cache key, so worktrees and fresh CI clones share hits.
    export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$EROPAF_ROOT}"
    args+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  else
    note "ccache not found: building without a compiler cache"
  fi
  local part
  for part in tools bench; do
    if [[ -f "$EROPAF_ROOT/$part/CMakeLists.txt" ]]; then
      args+=("-DEROPAF_BUILD_${part^^}=ON")
    else
      note "$part/ does not exist yet: configuring with -DEROPAF_BUILD_${part^^}=OFF"
      args+=("-DEROPAF_BUILD_${part^^}=OFF")
    fi
  done
  cmake "${args[@]}" "$@"
}

# eropaf_build <build_dir>: builds every target with eropaf_jobs parallel jobs.
eropaf_build() {
  cmake --build "$1" -j "$(eropaf_jobs)"
}

# eropaf_ctest <build_dir>: runs the registered tests; a suite that registers no test fails.
eropaf_ctest() {
  ctest --test-dir "$1" --output-on-failure --no-tests=error -j "${CTEST_JOBS:-2}"
}
