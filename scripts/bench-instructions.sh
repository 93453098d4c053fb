#!/bin/bash
# bench-instructions.sh counts the instructions each parser of
# BenchmarkStream executes per 64 MiB pass, with valgrind's callgrind.
# Unlike MB/s, the counts repeat exactly from run to run, whatever else the
# machine is doing, so they show small changes that timing noise hides.
#
#	scripts/bench-instructions.sh [mix] [parser...]
#
# mix is control (default) or bulk; parsers default to qjson reuse jsontext.
# Counted: the parser's own functions plus memmove, memclr, mallocgc and
# growslice; not the garbage collector or the scheduler. A run takes a few
# minutes (valgrind runs the benchmark about 50 times slower).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "bench-instructions: valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }
mix=${1:-control}
shift || true
parsers=("$@")
[ ${#parsers[@]} -gt 0 ] || parsers=(qjson reuse jsontext)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go test -c -o "$tmp/qjson.test" ./qjson/
for p in "${parsers[@]}"; do
	# Async preemption signals upset callgrind; the count covers the
	# benchmark's warm-up pass and one timed pass.
	GODEBUG=asyncpreemptoff=1 valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$p" \
		"$tmp/qjson.test" -test.run '^$' -test.bench "^BenchmarkStream\$/^$mix\$/^$p\$" -test.benchtime 1x >/dev/null 2>&1
	callgrind_annotate --auto=no --threshold=100 "$tmp/cg.$p" | awk -v p="$p" '
		/qgafuzz\/qjson\.|jsontext\.|jsonwire|encoding\/json|runtime\.(memmove|memclr|mallocgc|growslice)|qjson_test\.bench(QJSON|JSONText|EncodingJSON)/ &&
		!/qjson_test\.bench(Build|ControlMsg|InfoReply|BulkMsg)|init/ {
			n = $1; gsub(",", "", n); total += n
		}
		END { printf "%-10s %8.1fM instructions per pass\n", p, total / 2 / 1e6 }'
done
