#!/usr/bin/env bash
# Runs one fuzz target for a bounded time: scripts/fuzz.sh <package> <FuzzName> <fuzztime>
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded" at
# the -fuzztime boundary when a worker is still busy as the deadline fires
# (golang/go#75804, fixed in Go 1.27). That failure names no input and writes
# no reproducer. Only that exact shape is run again, once; any failure that
# wrote an input, panicked or failed an assertion fails at once, and a second
# bare deadline fails too.
set -uo pipefail
pkg=$1 name=$2 fuzztime=$3
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
	go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 1s "$pkg" 2>&1 | tee "$log"
	return "${PIPESTATUS[0]}"
}

deadline_only() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:|fuzz_test\.go' "$log"
}

run && exit 0
if deadline_only; then
	echo "fuzz.sh: ${name}: bare 'context deadline exceeded' at the fuzztime boundary with no input written (golang/go#75804); running it once more"
	run && exit 0
fi
exit 1
