#!/usr/bin/env bash
# The project's test command (README "Run the tests"): installs the real
# qemu-ga the differential tests need, qemu-user for a big-endian run of
# the parser's tests, and clang for the libFuzzer engine's tests, when they
# are missing and we may install them; then vets and tests every package.
#
# Environment:
#   QGAFUZZ_TEST_FLAGS  extra flags for go test (e.g. "-short" or "-run Vector")
#   QGAFUZZ_DIFF_STREAMS  number of differential streams against qemu-ga (default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
if ! command -v qemu-ga >/dev/null 2>&1 && [ ! -x /usr/sbin/qemu-ga ]; then
  missing+=(qemu-guest-agent) # the differential tests' oracle
fi
if ! command -v qemu-s390x >/dev/null 2>&1; then
  missing+=(qemu-user) # runs the parser's tests on a big-endian machine
fi
if ! command -v zip >/dev/null 2>&1; then
  missing+=(zip) # oss-fuzz-build.sh packs the seed corpora with it
fi
if ! command -v clang >/dev/null 2>&1; then
  missing+=(clang libclang-rt-dev) # builds libFuzzer targets (scripts/libfuzzer.sh; the libFuzzer engine's tests)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "test.sh: not installed: ${missing[*]}; the tests that need them will be skipped" >&2
  fi
fi
# qemu-ga lives in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "test.sh: gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
# Users build the CLI and the library elsewhere too: 32-bit (where int is
# 32 bits), macOS (whose syscall package lacks Linux-only flags) and
# Windows (no process groups; its tests that need unix syscalls are in
# *_unix_test.go files).
GOARCH=386 go vet ./...
GOOS=darwin go vet ./...
GOOS=windows go vet ./...
# -count=1: the differential tests draw fresh seeds each run, so a cached
# result would hide the work CI is meant to do.
# shellcheck disable=SC2086
go test -count=1 -timeout 20m ${QGAFUZZ_TEST_FLAGS:-} ./...
# qjson keeps strings and member lists as pointer and length (unsafe):
# run its tests once more with every such conversion checked.
# shellcheck disable=SC2086
go test -count=1 -short ${QGAFUZZ_TEST_FLAGS:-} -gcflags=github.com/qgafuzz/qgafuzz/qjson=-d=checkptr ./qjson
# The parser reads input a word at a time: run its tests on a big-endian
# machine too (s390x, emulated by qemu-user).
if command -v qemu-s390x >/dev/null 2>&1; then
  bin=$(mktemp)
  trap 'rm -f "$bin"' EXIT
  GOARCH=s390x go test -c -o "$bin" ./qjson
  (cd qjson && qemu-s390x "$bin" -test.short)
else
  echo "test.sh: qemu-s390x not found; skipping the big-endian run of the qjson tests" \
       "(install the qemu-user package)" >&2
fi
# One seed gives one simulation, one stream, one scenario on every machine
# (a seed from the nightly job on amd64 replays on an arm64 laptop): the
# golden tests pin them; run them where int is 32 bits (386: natively, or
# under qemu-i386 on kernels built without 32-bit support, with async
# preemption off, whose signals qemu-user's i386 mode cannot deliver),
# and where the compiler fuses x*y+z into one instruction and the math
# package has other assembly (arm64, s390x: emulated, about a second each).
portable=(./internal/detmath ./sim ./qga/qgatest ./fuzz)
portable_run='Golden|NormTail|SpecialCases|AsStandardLibrary|ScenarioFixedSize'
exec386=()
probe=$(mktemp -d)
printf 'package main\n\nfunc main() {}\n' >"$probe/main.go"
GOARCH=386 go build -o "$probe/probe" "$probe/main.go"
if ! "$probe/probe" 2>/dev/null; then
  if command -v qemu-i386 >/dev/null 2>&1; then
    exec386=(-exec "env GODEBUG=asyncpreemptoff=1 qemu-i386")
  else
    echo "test.sh: this kernel cannot run 386 binaries and qemu-i386 is not installed:" \
         "skipping the 386 run of the golden tests (install the qemu-user package)" >&2
    exec386=(skip)
  fi
fi
rm -rf "$probe"
# qemu-i386 itself crashes now and then while it delivers a signal to a
# 32-bit Go program ("morestack on gsignal", then "qemu: uncaught target
# signal 11"): the emulator's failure, not a test's verdict, so such a run
# is made once more. A test that fails is never retried.
test386() {
  local log status=0
  log=$(mktemp)
  GOARCH=386 go test "${exec386[@]}" "$@" 2>&1 | tee "$log" || status=$?
  if [ "$status" -ne 0 ] && [ ${#exec386[@]} -gt 0 ] && grep -q 'qemu: uncaught target signal' "$log" \
     && ! grep -q -e '^--- FAIL' -e '^panic: ' "$log"; then
    echo "test.sh: qemu-i386 crashed (above), not a test: running the 386 tests once more" >&2
    status=0
    GOARCH=386 go test "${exec386[@]}" "$@" || status=$?
  fi
  rm -f "$log"
  return "$status"
}
if [ "${exec386[0]:-}" != skip ]; then
  # shellcheck disable=SC2086
  test386 -count=1 -short ${QGAFUZZ_TEST_FLAGS:-} -run "$portable_run" "${portable[@]}"
  # Sizes summed past 2 GiB, which only a 32-bit int overflows.
  test386 -count=1 -run 'CoverBytesDoNotOverflow' ./corpus/
fi
for arch in arm64:qemu-aarch64 s390x:qemu-s390x; do
  if ! command -v "${arch#*:}" >/dev/null 2>&1; then
    echo "test.sh: ${arch#*:} not found; skipping the ${arch%%:*} run of the golden tests" \
         "(install the qemu-user package)" >&2
    continue
  fi
  for pkg in "${portable[@]}"; do
    pbin=$(mktemp)
    GOARCH=${arch%%:*} go test -c -o "$pbin" "$pkg"
    (cd "$pkg" && "${arch#*:}" "$pbin" -test.short -test.run "$portable_run") || { rm -f "$pbin"; exit 1; }
    rm -f "$pbin"
  done
done
