#!/usr/bin/env bash
# Build and run a qgafuzz fuzz target under github.com/dvyukov/go-fuzz.
#
# Usage:
#   scripts/gofuzz.sh build TARGET            build out/gofuzz/TARGET.zip
#   scripts/gofuzz.sh run TARGET [DURATION]   build, then fuzz (default 60s; 0 = until ^C)
#   scripts/gofuzz.sh targets                 list the targets
#
# Environment:
#   GOFUZZ_PROCS    worker processes (default: number of CPUs)
#   GOFUZZ_WORKDIR  go-fuzz's work directory (default out/gofuzz/TARGET);
#                   it keeps the corpus and the crashers between runs
#   GOFUZZ_SEEDS    a directory of extra seed inputs (raw files)
#   GOFUZZ_MINIMIZE how long go-fuzz minimizes a crasher before it writes it
#                   (default go-fuzz's, 1m): a crasher still being minimized
#                   when the run ends is lost
#
# Relative paths in GOFUZZ_WORKDIR and GOFUZZ_SEEDS are taken from the
# directory the script is started in.
#
# The seed corpus corpus/TARGET/ is copied into the work directory's corpus
# on every run (go-fuzz reads raw files). Crashers land in
# WORKDIR/crashers/ (the input, .quoted and .output files). go-fuzz has no
# dictionary option: it extracts tokens from the instrumented code's string
# literals, which include the protocol's tokens (fuzz/diffdriver.go).
#
# go-fuzz's last release is from 2022. go-fuzz-build is installed at the
# version pinned in go.mod; when it no longer builds or runs with this Go
# release the script says so and exits with status 3: use the native engine
# (qgafuzz fuzz --engine native) or libFuzzer (scripts/libfuzzer.sh).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
root=$PWD
# A private $TMPDIR, removed when the script ends: go-fuzz-build leaves its
# copy of GOROOT (80 MB) there when it is interrupted. On SIGTERM the script
# waits for the running command, as on Ctrl-C, so the directory goes after
# the engine.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 143' TERM
export TMPDIR=$scratch
targets="agent delimiter differential parser scenario"

die() { echo "gofuzz.sh: $1" >&2; exit "${2:-2}"; }

# abspath resolves a path given by the caller against the directory the
# script was started in (the script itself runs in the source tree).
abspath() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$caller" "$1" ;; esac; }

broken() {
  echo "gofuzz.sh: go-fuzz is broken with $(go version | cut -d' ' -f3): $*" >&2
  echo "gofuzz.sh: go-fuzz is unmaintained since 2022; use 'qgafuzz fuzz --engine native' or scripts/libfuzzer.sh" >&2
  exit 3
}

funcname() { # parser -> FuzzParser
  local t=$1
  echo "Fuzz$(tr '[:lower:]' '[:upper:]' <<<"${t:0:1}")${t:1}"
}

check_target() {
  [ -n "${1:-}" ] || die "missing TARGET (one of: $targets)"
  # planted: the test fixture of fuzz/triage_planted.go, seeded like FuzzPlanted.
  if [ "$1" = planted ]; then
    [ "${QGAFUZZ_PLANT_CRASH:-}" = 1 ] || die "target 'planted' needs QGAFUZZ_PLANT_CRASH=1"
    return
  fi
  case " $targets " in *" $1 "*) ;; *) die "unknown target '$1' (one of: $targets)";; esac
}

# seeddir is the seed corpus of a target (the planted fixture uses the parser's).
seeddir() { if [ "$1" = planted ]; then echo corpus/parser; else echo "corpus/$1"; fi; }

# install_tools puts go-fuzz and go-fuzz-build, at the version in go.mod,
# into out/bin.
install_tools() {
  local ver
  # The stamp names x/tools too: go.mod pins it for go-fuzz-build, and a
  # new pin must rebuild the tools.
  ver=$(go list -m -f '{{.Version}}' github.com/dvyukov/go-fuzz golang.org/x/tools | paste -sd' ') || die "github.com/dvyukov/go-fuzz is not in go.mod"
  mkdir -p out/bin
  # Both binaries: scripts/libfuzzer.sh installs go-fuzz-build alone and
  # writes the same version stamp.
  if [ ! -x out/bin/go-fuzz ] || [ ! -x out/bin/go-fuzz-build ] || [ "$(cat out/bin/.go-fuzz-version 2>/dev/null)" != "$ver $(go version)" ]; then
    echo "gofuzz.sh: installing go-fuzz and go-fuzz-build $ver" >&2
    # From this module (go.mod's tool lines), not pkg@version: go-fuzz
    # has no go.mod, so @version would build it with the latest
    # golang.org/x/tools of the day; go.mod and go.sum pin them.
    GOBIN=$root/out/bin GOFLAGS= go install \
      github.com/dvyukov/go-fuzz/go-fuzz github.com/dvyukov/go-fuzz/go-fuzz-build \
      || broken "installing go-fuzz-build $ver failed"
    echo "$ver $(go version)" > out/bin/.go-fuzz-version
  fi
}

build() {
  local t=$1 fn
  fn=$(funcname "$t")
  install_tools
  mkdir -p out/gofuzz
  echo "gofuzz.sh: go-fuzz-build -func $fn -o out/gofuzz/$t.zip ./fuzz" >&2
  out/bin/go-fuzz-build -func "$fn" -o "out/gofuzz/$t.zip" ./fuzz \
    || broken "go-fuzz-build failed on ./fuzz"
}

run() {
  local t=$1 dur=${2:-60s} work procs
  # A bad duration or worker count is the caller's mistake: say so before
  # building, rather than blame go-fuzz when timeout rejects it.
  if ! [[ $dur =~ ^[0-9]+(\.[0-9]+)?[smhd]?$ ]]; then
    echo "gofuzz.sh: duration '$dur': want a number with an optional s, m, h or d suffix (0: until interrupted)" >&2
    exit 2
  fi
  procs=${GOFUZZ_PROCS:-$(nproc 2>/dev/null || echo 2)}
  if ! [[ $procs =~ ^[1-9][0-9]*$ ]]; then
    echo "gofuzz.sh: GOFUZZ_PROCS='$procs': want 1 or more" >&2
    exit 2
  fi
  local seeds=
  if [ -n "${GOFUZZ_SEEDS:-}" ]; then
    seeds=$(abspath "$GOFUZZ_SEEDS")
    [ -d "$seeds" ] || die "GOFUZZ_SEEDS=$GOFUZZ_SEEDS: $seeds is not a directory"
  fi
  local minimize=()
  if [ -n "${GOFUZZ_MINIMIZE:-}" ]; then
    if ! [[ $GOFUZZ_MINIMIZE =~ ^[0-9]+(\.[0-9]+)?(ms|s|m|h)$ ]]; then
      echo "gofuzz.sh: GOFUZZ_MINIMIZE='$GOFUZZ_MINIMIZE': want a duration such as 500ms, 5s or 1m" >&2
      exit 2
    fi
    minimize=(-minimize "$GOFUZZ_MINIMIZE")
  fi
  work=out/gofuzz/$t
  [ -z "${GOFUZZ_WORKDIR:-}" ] || work=$(abspath "$GOFUZZ_WORKDIR")
  build "$t"
  mkdir -p "$work/corpus"
  cp -f "$(seeddir "$t")"/* "$work/corpus/"
  if [ -n "$seeds" ]; then
    find "$seeds" -maxdepth 1 -type f ! -name '.*' -exec cp -f {} "$work/corpus/" \;
  fi
  echo "gofuzz.sh: fuzzing $t for $dur with $procs procs in $work (crashers: $work/crashers)" >&2
  local status=0
  if [ "$dur" = 0 ]; then
    out/bin/go-fuzz -bin "out/gofuzz/$t.zip" -func "$(funcname "$t")" -workdir "$work" -procs "$procs" ${minimize[@]+"${minimize[@]}"} || status=$?
  else
    timeout --foreground -s INT "$dur" \
      out/bin/go-fuzz -bin "out/gofuzz/$t.zip" -func "$(funcname "$t")" -workdir "$work" -procs "$procs" ${minimize[@]+"${minimize[@]}"} || status=$?
  fi
  # timeout's 124 (or go-fuzz's own exit on SIGINT) is the normal end.
  case $status in 0|124|130) ;; *) broken "go-fuzz exited with status $status";; esac
  local n
  n=$(find "$work/crashers" -type f ! -name '*.quoted' ! -name '*.output' 2>/dev/null | wc -l)
  echo "gofuzz.sh: done; $n crasher(s) in $work/crashers" >&2
  [ "$n" = 0 ] || exit 1
}

case "${1:-}" in
  build) check_target "${2:-}"; build "$2" ;;
  run) check_target "${2:-}"; run "$2" "${3:-60s}" ;;
  targets) echo "$targets" | tr ' ' '\n' ;;
  *) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
