#!/usr/bin/env bash
# govulncheck against an offline copy of the Go vulnerability database.
#
# vuln.go.dev is not needed: the database is built from the OSV files of the
# golang.org/x/vulndb module (data/osv/GO-*.json), pinned below by version and
# hash and fetched like any module (go mod download, module proxy and cache),
# with vulndb's own cmd/indexdb into
#
#   ${AGENTAUDIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-agentaudit-test}/vulndb/VERSION
#
# once per pin (index/db.json, index/modules.json, ID/GO-*.json: the layout
# govulncheck reads with -db file://DIR). govulncheck itself is the tool
# pinned in go.mod (go tool govulncheck).
#
# Scans (each one reported under its name):
#   source:.       the project module, ./...: reachability from our code
#   source:_build  the ocb-generated distribution module: the exact build list
#                  of the collector, with the upstream components it adds
#   binary:NAME    the built binaries (_build/otelcol-agentaudit, _build/auditctl)
#
# A finding fails the check when govulncheck reports it as affecting the code:
# a vulnerable symbol reached from our code (source) or present in the binary
# (binary; the ocb binary is stripped, so there govulncheck counts every
# vulnerable symbol of every module in its build list). Advisories for
# packages that are imported but not called, or modules that are required but
# not imported, are listed and do not fail: govulncheck's own exit code makes
# the same distinction. A failing finding passes only if
# scripts/vulncheck-allow.txt lists its ID and exact MODULE@VERSION with a
# reason.
#
# Usage: scripts/vulncheck.sh      (after make build)
#        scripts/vulncheck.sh --self-test   (shows that a finding fails: scans
#        a throwaway module that calls golang.org/x/text v0.3.5's
#        language.Parse, GO-2021-0113; about 30 s)
# Knobs: VULNCHECK_ALLOW=FILE (allowlist), VULNCHECK_SRC="DIR..." (source
# scans, default ". _build"), VULNCHECK_BINS="FILE..." (binary scans).
# Exit status: 0 clean or every failing finding allowed, 1 otherwise, 2 setup.
set -euo pipefail

# Bump: VULNDB_VERSION=$(go list -m -f '{{.Version}}' golang.org/x/vulndb@latest)
# and VULNDB_SUM from `go mod download -json golang.org/x/vulndb@$VULNDB_VERSION`.
VULNDB_VERSION=v0.0.0-20261105234957-e22db6528018
VULNDB_SUM=h1:mfngRv0Yoh0VApsXKEN82CjD99kl7mtparN3bs3JnqI=

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
allow=${VULNCHECK_ALLOW:-scripts/vulncheck-allow.txt}
read -r -a srcdirs <<<"${VULNCHECK_SRC:-. _build}"
read -r -a bins <<<"${VULNCHECK_BINS:-_build/otelcol-agentaudit _build/auditctl}"
cache="${AGENTAUDIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-agentaudit-test}"
db="$cache/vulndb/$VULNDB_VERSION"

say() { echo "vulncheck: $*"; }
die() {
	echo "vulncheck: $*" >&2
	exit 2
}

# self_test: the check must fail on a reachable vulnerable call, in source
# and binary mode, and pass once that finding is allowed for its exact version.
self_test() {
	local mod="$tmp/vulnmod" out rc
	mkdir -p "$mod"
	printf 'module example.com/vulnmod\n\ngo 1.26.0\n' >"$mod/go.mod"
	cat >"$mod/main.go" <<'GO'
// Deliberately vulnerable: golang.org/x/text v0.3.5's language.Parse is
// GO-2021-0113 (fixed in v0.3.7).
package main

import (
	"fmt"
	"os"

	"golang.org/x/text/language"
)

func main() { fmt.Println(language.Parse(os.Args[1])) }
GO
	(cd "$mod" && go get golang.org/x/text@v0.3.5 2>/dev/null && go build -o vulnbin .) || die "self-test: cannot build the vulnerable module"
	: >"$tmp/empty-allow"
	printf 'GO-2021-0113 golang.org/x/text@v0.3.5 self-test: the deliberately vulnerable call\n' >"$tmp/one-allow"
	set +e
	out=$(VULNCHECK_SRC="$mod" VULNCHECK_BINS="$mod/vulnbin" VULNCHECK_ALLOW="$tmp/empty-allow" "$0" 2>&1)
	rc=$?
	set -e
	echo "$out" | grep FAILING
	[ "$rc" -eq 1 ] || die "self-test: exit $rc with an empty allowlist, want 1"
	[ "$(echo "$out" | grep -c 'FAILING GO-2021-0113 golang.org/x/text@v0.3.5')" -eq 2 ] || die "self-test: GO-2021-0113 not FAILING in both the source and the binary scan"
	VULNCHECK_SRC="$mod" VULNCHECK_BINS="$mod/vulnbin" VULNCHECK_ALLOW="$tmp/one-allow" "$0" >/dev/null ||
		die "self-test: fails although GO-2021-0113 is allowed"
	say "self-test ok: an unlisted reachable finding fails (exit 1), a listed one passes"
}

command -v jq >/dev/null || die "jq is needed to read govulncheck's JSON (Debian package jq)"
[ -r "$allow" ] || die "cannot read the allowlist $allow"
if [ "${1:-}" != --self-test ]; then
	for d in "${srcdirs[@]}"; do [ -f "$d/go.mod" ] || die "$d/go.mod missing (run make build for _build)"; done
	for b in "${bins[@]}"; do [ -f "$b" ] || die "$b missing (run make build)"; done
fi

tmp=$(mktemp -d)
partial="" # a database being built: removed if the script stops before renaming it
trap 'rm -rf "$tmp" ${partial:+"$partial"}' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build_db: fetch the pinned vulndb module, check its hash, and index its OSV
# files. Built into a temporary directory in the cache and renamed into place,
# so an interrupted build never leaves a partial database under the final name.
build_db() {
	local info dir sum start=$SECONDS
	say "building the vulnerability database from golang.org/x/vulndb@$VULNDB_VERSION into $db"
	# Outside this module (a temporary directory): vulndb's dependencies never
	# enter go.mod. -json prints the module's directory in the module cache.
	info=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION")
	sum=$(jq -r .Sum <<<"$info")
	dir=$(jq -r .Dir <<<"$info")
	[ "$sum" = "$VULNDB_SUM" ] || die "golang.org/x/vulndb@$VULNDB_VERSION has hash $sum, pinned $VULNDB_SUM"
	[ -d "$dir/data/osv" ] || die "$dir/data/osv missing"
	mkdir -p "$(dirname "$db")"
	local out
	out=$(mktemp -d "$db.tmp.XXXXXX")
	partial=$out
	(cd "$tmp" && GOFLAGS=-mod=mod go run "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION" -vulns "$dir/data/osv" -out "$out")
	[ -f "$out/index/db.json" ] && [ -f "$out/index/modules.json" ] || die "indexdb wrote no index into $out"
	# The snapshot's date: the vulndb commit time (its OSV files carry no dates).
	jq -r .Time "$(dirname "$(jq -r .Info <<<"$info")")/$VULNDB_VERSION.info" >"$out/snapshot-time"
	ls "$dir/data/osv" | wc -l | tr -d ' ' >"$out/osv-count"
	if mv -T "$out" "$db" 2>/dev/null; then
		partial=""
	fi # else another run finished first: keep its database, remove ours on exit
	say "database built in $((SECONDS - start))s"
}

[ -f "$db/index/modules.json" ] || build_db
if [ "${1:-}" = --self-test ]; then
	self_test
	exit 0
fi
say "database: golang.org/x/vulndb@$VULNDB_VERSION, $(cat "$db/osv-count") advisories, snapshot of $(cat "$db/snapshot-time")"

# Allowlist: ID MODULE@VERSION REASON...; an entry without a reason is an error.
declare -A allowed=()
while read -r id modver reason; do
	case "$id" in '' | '#'*) continue ;; esac
	[ -n "$reason" ] || die "$allow: $id $modver has no reason"
	allowed["$id $modver"]=$reason
done <"$allow"

# scan NAME ARGS...: govulncheck's JSON stream into $tmp/NAME.json.
scan() {
	local name=$1 start=$SECONDS
	shift
	if ! go tool govulncheck -db "file://$db" -format json "$@" >"$tmp/$name.json" 2>"$tmp/$name.err"; then
		cat "$tmp/$name.err" >&2
		die "govulncheck failed on $name"
	fi
	say "$name scanned in $((SECONDS - start))s"
}

names=()
for d in "${srcdirs[@]}"; do
	n="source:${d//\//_}"
	names+=("$n")
	scan "$n" -C "$d" ./...
done
for b in "${bins[@]}"; do
	n="binary:$(basename "$b")"
	names+=("$n")
	scan "$n" -mode binary "$b"
done

# Per scan, one line per affecting advisory: ID, module@version, fixed
# version, the vulnerable symbol and (source) the frame in our code that
# reaches it; and the IDs of the advisories that only match an import or a
# required module. A symbol "PKG/*" is govulncheck's stand-in for "every
# symbol of PKG" (advisories that name no symbols, stripped binaries).
fail=0
declare -A used=()
for n in "${names[@]}"; do
	f="$tmp/$n.json"
	jq -r 'select(.finding and .finding.trace[0].function) | .finding
		| (.trace[0]) as $v | (.trace[-1]) as $top
		| [.osv, "\($v.module)@\($v.version)", (.fixed_version // "none"),
		   (if ($v.function | endswith("/*")) then "\($v.package) (every symbol)"
		    else "\($v.package).\(if $v.receiver then $v.receiver + "." else "" end)\($v.function)" end),
		   (if (.trace | length) > 1 then "reached from \($top.package).\($top.function)" +
		     (if $top.position then " (\($top.position.filename | split("/") | .[-2:] | join("/")):\($top.position.line))" else "" end)
		    else "" end)] | @tsv' "$f" | sort -t$'\t' -k1,2 -u >"$tmp/$n.affected"
	jq -r 'select(.finding) | .finding.osv' "$f" | sort -u >"$tmp/$n.all"
	cut -f1 "$tmp/$n.affected" | sort -u | comm -23 "$tmp/$n.all" - >"$tmp/$n.other"
	summary() { jq -r --arg id "$1" 'select(.osv.id == $id) | .osv.summary' "$f" | head -1; }
	ok=() bad=()
	while IFS=$'\t' read -r id modver fixed sym from; do
		key="$id $modver"
		if [ -n "${allowed[$key]+x}" ]; then
			used[$key]=1
			ok+=("$id")
		else
			fail=1
			bad+=("FAILING $id $modver (fixed in $fixed): $(summary "$id"): $sym $from")
		fi
	done <"$tmp/$n.affected"
	say "$n: $(wc -l <"$tmp/$n.affected") affecting (${#ok[@]} allowed: ${ok[*]:-none}); imported or required only, not called: $(tr '\n' ' ' <"$tmp/$n.other")"
	for b in "${bad[@]}"; do say "  $b"; done
done

for key in "${!used[@]}"; do
	say "allowed $key: ${allowed[$key]}"
done | sort
while read -r key; do
	[ -n "$key" ] || continue
	[ -n "${used[$key]+x}" ] || say "stale allowlist entry (matched by no scan): $key"
done < <(printf '%s\n' "${!allowed[@]}" | sort)
if [ "$fail" -ne 0 ]; then
	say "FAIL: findings above marked FAILING are neither fixed nor listed with a reason in $allow"
	exit 1
fi
say "ok: no finding outside $allow"
