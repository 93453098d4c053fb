#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script for qgafuzz (the build.sh of an
# OSS-Fuzz project, or .clusterfuzzlite/build.sh). It runs inside the
# base-builder-go image, where $SRC, $OUT, $LIB_FUZZING_ENGINE and the
# compile_go_fuzzer / compile_native_go_fuzzer helpers exist, and writes,
# for each fuzz target T:
#
#   $OUT/qgafuzz_T                 the libFuzzer-compatible fuzzer
#   $OUT/qgafuzz_T_seed_corpus.zip corpus/T/ (the checked-in seeds)
#   $OUT/qgafuzz_T.dict            corpus/qga.dict (protocol tokens)
#
# The fuzzers are built from the go-fuzz-style entry points of fuzz/gofuzz.go
# (build tag gofuzz: func FuzzT(data []byte) int), which run the same target
# bodies as `go test -fuzz` and `qgafuzz nightly`. The native Fuzz functions
# live in an external test package and read their seeds from ../corpus,
# which OSS-Fuzz's native conversion does not support; set
# QGAFUZZ_OSSFUZZ_NATIVE=1 to try compile_native_go_fuzzer on them anyway.
#
# A crash found there replays with: qgafuzz repro --target T crash-<sha1>

# $OUT is absolute in OSS-Fuzz; a relative one (a local emulation) is taken
# from where the script starts, before it moves to the source tree.
if [ -n "${OUT:-}" ] && [ -d "$OUT" ]; then
  OUT=$(cd "$OUT" && pwd)
  export OUT
fi
cd "$(dirname "$0")/.."

targets="agent delimiter differential parser scenario"

if ! command -v compile_go_fuzzer >/dev/null 2>&1 || [ -z "${OUT:-}" ]; then
  cat >&2 <<'MSG'
oss-fuzz-build.sh: not running inside OSS-Fuzz's base-builder-go image
(compile_go_fuzzer and $OUT are missing). To build as OSS-Fuzz does:
  python3 infra/helper.py build_fuzzers --sanitizer address qgafuzz /path/to/qgafuzz
from an oss-fuzz checkout with a projects/qgafuzz/ whose build.sh calls this
script (see README "OSS-Fuzz / ClusterFuzzLite"), or, for ClusterFuzzLite:
  python3 infra/helper.py build_fuzzers --external /path/to/qgafuzz
To run libFuzzer locally without Docker: scripts/libfuzzer.sh build parser
MSG
  exit 2
fi

for t in $targets; do
  fn="Fuzz$(tr '[:lower:]' '[:upper:]' <<<"${t:0:1}")${t:1}"
  if [ "${QGAFUZZ_OSSFUZZ_NATIVE:-}" = 1 ]; then
    compile_native_go_fuzzer github.com/qgafuzz/qgafuzz/fuzz "$fn" "qgafuzz_$t"
  else
    compile_go_fuzzer github.com/qgafuzz/qgafuzz/fuzz "$fn" "qgafuzz_$t" gofuzz
  fi
  # zip adds to an existing archive: start afresh, so that a rebuild into
  # the same $OUT does not keep seeds that left corpus/T/.
  rm -f "$OUT/qgafuzz_${t}_seed_corpus.zip"
  if [ -d "corpus/$t" ]; then
    (cd "corpus/$t" && zip -q -r "$OUT/qgafuzz_${t}_seed_corpus.zip" .)
  fi
  cp corpus/qga.dict "$OUT/qgafuzz_$t.dict"
done
