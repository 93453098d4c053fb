#!/usr/bin/env bash
# The nightly fuzzing job for cron or CI: runs `qgafuzz nightly` from this
# source tree and exits as it does (0 nothing new, 1 a new crash or
# invariant violation, 2 usage or internal error, or a build that fails).
# Reports land in $QGAFUZZ_OUT (report.json, junit.xml, summary.md; the
# last night's are removed when a night starts); the corpus grows in
# $QGAFUZZ_CORPUS from night to night; crashes are stored under
# $QGAFUZZ_OUT/crashers/, each with the command that reproduces it.
#
# Environment (all optional):
#   QGAFUZZ_BUDGET        total time, e.g. 30m or 2h (default 1h)
#   QGAFUZZ_OUT           output directory (default out/nightly in the source tree;
#                         relative paths here are taken from where the script starts)
#   QGAFUZZ_CORPUS        persistent corpus (default $QGAFUZZ_OUT/corpus)
#   QGAFUZZ_TARGETS       comma-separated targets (default: all)
#   QGAFUZZ_AGENT         builtin, bug:NAME or qemu-ga (default: qemu-ga when
#                         qemu-ga is installed, as the differential reference;
#                         builtin otherwise)
#   QGAFUZZ_SIM_RUNS      simulation seeds (default: as many as the share allows)
#   QGAFUZZ_SUPPRESSIONS  known crash signatures (default scripts/suppressions.txt
#                         when it exists)
#   QGAFUZZ_INSTALL_QEMU_GA=1  install qemu-guest-agent with apt-get when missing
#                         (as root)
#
# Example crontab line (03:00, two hours, mail on a new crash):
#   0 3 * * * cd /src/qgafuzz && QGAFUZZ_BUDGET=2h scripts/nightly.sh >/var/log/qgafuzz.log 2>&1 || mail -s "qgafuzz: new crash" dev@example.org </var/log/qgafuzz.log
set -uo pipefail
caller=$PWD
cd "$(dirname "$0")/.."

# Paths given in the environment are relative to where the script was
# started, as a user expects; the defaults are relative to the source tree.
abspath() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$caller" "$1" ;; esac; }

budget=${QGAFUZZ_BUDGET:-1h}
out=out/nightly
[ -n "${QGAFUZZ_OUT:-}" ] && out=$(abspath "$QGAFUZZ_OUT")
export PATH="$PATH:/usr/sbin:/sbin" # qemu-ga lives in /usr/sbin

if [ "${QGAFUZZ_INSTALL_QEMU_GA:-}" = 1 ] && ! command -v qemu-ga >/dev/null 2>&1 &&
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-guest-agent >/dev/null
fi
agent=${QGAFUZZ_AGENT:-}
if [ -z "$agent" ]; then
  if command -v qemu-ga >/dev/null 2>&1; then agent=qemu-ga; else agent=builtin; fi
fi

# --out first: a usage error in what follows (a bad QGAFUZZ_BUDGET) still
# knows it, and clears the last night's reports there (see below).
args=(nightly --out "$out" --budget "$budget" --agent "$agent")
[ -n "${QGAFUZZ_CORPUS:-}" ] && args+=(--corpus "$(abspath "$QGAFUZZ_CORPUS")")
[ -n "${QGAFUZZ_TARGETS:-}" ] && args+=(--targets "$QGAFUZZ_TARGETS")
[ -n "${QGAFUZZ_SIM_RUNS:-}" ] && args+=(--sim-runs "$QGAFUZZ_SIM_RUNS")
supp=
[ -n "${QGAFUZZ_SUPPRESSIONS:-}" ] && supp=$(abspath "$QGAFUZZ_SUPPRESSIONS")
if [ -z "$supp" ] && [ -f scripts/suppressions.txt ]; then supp=scripts/suppressions.txt; fi
[ -n "$supp" ] && args+=(--suppressions "$supp")

# The reports must be this run's. `qgafuzz nightly` removes the last
# night's once it holds the lock on $out (so that a second start while a
# night runs leaves that night's alone, and a night killed with kill -9
# leaves none), also when it stops at a usage error, and writes its own at
# the end; when qgafuzz does not even build, no night runs, and the last
# night's "all fine" summary.md, green junit.xml and report.json must not
# stay for CI to publish.
mkdir -p out
if ! go build -o out/qgafuzz ./cmd/qgafuzz; then
  rm -f "$out/summary.md" "$out/junit.xml" "$out/report.json"
  echo "nightly.sh: build failed" >&2
  exit 2
fi
echo "nightly.sh: qgafuzz ${args[*]}"
# The summary is printed only when this run wrote it (it is newer than
# the stamp): a run that stops at a usage error or finds another night
# running in $out writes none.
stamp=out/.nightly-started
touch "$stamp"
out/qgafuzz "${args[@]}"
status=$?
[ -f "$out/summary.md" ] && [ "$out/summary.md" -nt "$stamp" ] && cat "$out/summary.md"
exit $status
