#!/usr/bin/env bash
# Build and run a qgafuzz fuzz target under libFuzzer (clang -fsanitize=fuzzer).
#
# Usage:
#   scripts/libfuzzer.sh build TARGET              build out/libfuzzer/TARGET
#   scripts/libfuzzer.sh run TARGET [DURATION] [libFuzzer flags...]
#                                                  fuzz for DURATION: seconds, or a number
#                                                  with s, m or h (default 60; 0 = until ^C)
#   scripts/libfuzzer.sh merge TARGET DIR...       merge DIRs into out/libfuzzer/TARGET.corpus (-merge=1)
#   scripts/libfuzzer.sh minimize TARGET CRASH     minimize a crasher (-minimize_crash=1)
#   scripts/libfuzzer.sh targets                   list the targets
#
# Environment:
#   LIBFUZZER_ROUTE  gofuzz (default): go-fuzz-build -libfuzzer + clang, or
#                    go: Go's own instrumentation (go build -buildmode=c-archive
#                    -gcflags=all=-d=libfuzzer) with a small cgo harness
#   LIBFUZZER_FORK   run with -fork=N (default 0: one process)
#   LIBFUZZER_MAX_LEN  -max_len (default 2048: long enough for 1025 nested
#                    brackets, short enough to keep executions fast)
#   LIBFUZZER_CORPUS the working corpus (default out/libfuzzer/TARGET.corpus)
#   LIBFUZZER_CRASHES where crashers go (default out/libfuzzer/TARGET.crashes)
#   CC               the clang to use (default: clang, then clang-19 ... clang-14;
#                    installed with apt-get when missing and running as root);
#                    a CC that is missing or cannot link -fsanitize=fuzzer
#                    (gcc) is an error
#
# Relative paths (DIR, CRASH, LIBFUZZER_CORPUS, LIBFUZZER_CRASHES) are taken
# from the directory the script is started in; the fuzzer itself runs in the
# source tree, so paths inside extra libFuzzer flags are relative to it.
#
# The working corpus is out/libfuzzer/TARGET.corpus (new inputs are written
# there); the seeds corpus/TARGET/ are read too, and corpus/qga.dict is the
# dictionary. Crashers are written to out/libfuzzer/TARGET.crashes/.
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
root=$PWD
# A private $TMPDIR, removed when the script ends: go-fuzz-build -libfuzzer
# leaves a C header there after every build (and its copy of GOROOT when
# interrupted), and libFuzzer -fork its work directory when it is stopped.
# On SIGTERM (how qgafuzz fuzz stops libFuzzer) the script waits for the
# running command, as on Ctrl-C, so the directory goes after the engine.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
trap 'exit 143' TERM
export TMPDIR=$scratch
targets="agent delimiter differential parser scenario"
out=out/libfuzzer

die() { echo "libfuzzer.sh: $1" >&2; exit "${2:-2}"; }

# abspath resolves a path given by the caller against the directory the
# script was started in (the script itself runs in the source tree).
abspath() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$caller" "$1" ;; esac; }

funcname() { local t=$1; echo "Fuzz$(tr '[:lower:]' '[:upper:]' <<<"${t:0:1}")${t:1}"; }

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

# fuzzer_ok reports whether the compiler $1 links a libFuzzer target.
fuzzer_ok() {
  local tmp rc=0
  tmp=$(mktemp -d)
  printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' > "$tmp/t.c"
  "$1" -fsanitize=fuzzer "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1 || rc=1
  rm -rf "$tmp"
  return $rc
}

find_clang() {
  if [ -n "${CC:-}" ]; then
    # An explicit CC is used or refused, never silently replaced: cgo
    # (go-fuzz-build, go build) compiles with it too.
    command -v "$CC" >/dev/null || die "CC=$CC: not found; set CC to a clang, or unset it to look for one" 3
    fuzzer_ok "$CC" || die "CC=$CC cannot link -fsanitize=fuzzer (libFuzzer needs clang); set CC to a clang, or unset it to look for one" 3
    echo "$CC"; return
  fi
  for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
    if command -v "$c" >/dev/null; then echo "$c"; return; fi
  done
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "libfuzzer.sh: installing clang with apt-get" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >&2
    for c in clang clang-19 clang-18 clang-17 clang-16 clang-15 clang-14; do
      if command -v "$c" >/dev/null; then echo "$c"; return; fi
    done
  fi
  die "clang not found; install it (apt-get install clang) or set CC" 3
}

build() {
  local t=$1 fn cc route=${LIBFUZZER_ROUTE:-gofuzz}
  fn=$(funcname "$t")
  cc=$(find_clang)
  export CC=$cc # cgo compiles with the same clang
  mkdir -p "$out"
  case $route in
    gofuzz)
      # go-fuzz-build comes from scripts/gofuzz.sh's pinned install.
      local ver
      ver=$(go list -m -f '{{.Version}}' github.com/dvyukov/go-fuzz golang.org/x/tools | paste -sd' ') # as gofuzz.sh stamps it
      if [ ! -x out/bin/go-fuzz-build ] || [ "$(cat out/bin/.go-fuzz-version 2>/dev/null)" != "$ver $(go version)" ]; then
        mkdir -p out/bin
        GOBIN=$root/out/bin GOFLAGS= go install github.com/dvyukov/go-fuzz/go-fuzz-build \
          || die "go-fuzz-build $ver does not build with $(go version); try LIBFUZZER_ROUTE=go" 3
        echo "$ver $(go version)" > out/bin/.go-fuzz-version
      fi
      echo "libfuzzer.sh: go-fuzz-build -libfuzzer -func $fn ./fuzz; $cc -fsanitize=fuzzer" >&2
      out/bin/go-fuzz-build -libfuzzer -func "$fn" -o "$out/$t.a" ./fuzz \
        || die "go-fuzz-build -libfuzzer failed with $(go version); try LIBFUZZER_ROUTE=go" 3
      "$cc" -fsanitize=fuzzer "$out/$t.a" -o "$out/$t" -lpthread
      ;;
    go)
      # Go's own libFuzzer instrumentation: a c-archive of a tiny main
      # package that exports the entry point to the C harness.
      local dir=$out/$t.gomain
      mkdir -p "$dir"
      cat > "$dir/main.go" <<EOF
package main

import "C"

import (
	"unsafe"

	"github.com/qgafuzz/qgafuzz/fuzz"
)

//export LLVMFuzzerTestOneInput
func LLVMFuzzerTestOneInput(data *C.char, size C.size_t) C.int {
	fuzz.Check("$t", unsafe.Slice((*byte)(unsafe.Pointer(data)), int(size)))
	return 0
}

func main() {}
EOF
      echo "libfuzzer.sh: go build -buildmode=c-archive -gcflags=all=-d=libfuzzer; $cc -fsanitize=fuzzer" >&2
      CGO_ENABLED=1 go build -buildmode=c-archive -gcflags=all=-d=libfuzzer -tags libfuzzer \
        -o "$out/$t.go.a" "./$dir" || die "go build -d=libfuzzer failed" 3
      "$cc" -fsanitize=fuzzer "$out/$t.go.a" -o "$out/$t" -lpthread
      ;;
    *) die "unknown LIBFUZZER_ROUTE '$route' (gofuzz or go)" ;;
  esac
  echo "libfuzzer.sh: built $out/$t" >&2
}

# seconds converts a duration (N, Ns, Nm or Nh) to seconds, or fails.
seconds() {
  [[ $1 =~ ^([0-9]+)([smh]?)$ ]] || return 1
  local n=$((10#${BASH_REMATCH[1]}))
  case ${BASH_REMATCH[2]} in m) n=$((n * 60)) ;; h) n=$((n * 3600)) ;; esac
  echo "$n"
}

run() {
  local t=$1 dur=${2:-60} secs
  shift 2 || shift $#
  # libFuzzer reads -max_total_time=10m as 10 and =abc as 0 (no limit):
  # check the duration before building.
  secs=$(seconds "$dur") || die "duration '$dur': want seconds, or a number with s, m or h (0: until interrupted); libFuzzer flags go after it"
  build "$t"
  local corp=$out/$t.corpus crashes=$out/$t.crashes
  [ -z "${LIBFUZZER_CORPUS:-}" ] || corp=$(abspath "$LIBFUZZER_CORPUS")
  [ -z "${LIBFUZZER_CRASHES:-}" ] || crashes=$(abspath "$LIBFUZZER_CRASHES")
  mkdir -p "$corp" "$crashes"
  local flags=(-dict=corpus/qga.dict -artifact_prefix="$crashes/" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 -max_len="${LIBFUZZER_MAX_LEN:-2048}")
  [ "$secs" = 0 ] || flags+=(-max_total_time="$secs")
  [ "${LIBFUZZER_FORK:-0}" = 0 ] || flags+=(-fork="$LIBFUZZER_FORK" -ignore_crashes=1)
  echo "libfuzzer.sh: $out/$t ${flags[*]} $* $corp $(seeddir "$t")" >&2
  "$out/$t" "${flags[@]}" "$@" "$corp" "$(seeddir "$t")"
}

merge() {
  local t=$1
  shift
  [ $# -gt 0 ] || die "merge needs at least one corpus DIR"
  local dirs=() d
  for d in "$@"; do
    d=$(abspath "$d")
    [ -d "$d" ] || die "merge: $d is not a directory"
    dirs+=("$d")
  done
  [ -x "$out/$t" ] || build "$t"
  mkdir -p "$out/$t.corpus"
  "$out/$t" -merge=1 "$out/$t.corpus" "${dirs[@]}"
}

minimize() {
  local t=$1 crash=${2:-}
  [ -n "$crash" ] || die "minimize needs a crasher file"
  crash=$(abspath "$crash")
  [ -f "$crash" ] || die "minimize: $crash is not a file"
  [ -x "$out/$t" ] || build "$t"
  "$out/$t" -minimize_crash=1 -runs=20000 -exact_artifact_path="$crash.min" "$crash"
  echo "libfuzzer.sh: minimized crasher in $crash.min" >&2
}

case "${1:-}" in
  build) check_target "${2:-}"; build "$2" ;;
  run) check_target "${2:-}"; t=$2; shift 2; run "$t" "$@" ;;
  merge) check_target "${2:-}"; t=$2; shift 2; merge "$t" "$@" ;;
  minimize) check_target "${2:-}"; minimize "$2" "${3:-}" ;;
  targets) echo "$targets" | tr ' ' '\n' ;;
  *) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
