#!/usr/bin/env bash
# Builds the real S3 servers the tests run against (internal/tests3), each
# pinned here and only here, into the test cache:
#
#   ${AGENTAUDIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-agentaudit-test}/bin/NAME-VERSION
#
# The version is part of the file name, so changing a pin builds the new one.
# Usage: scripts/test-servers.sh [minio] [versitygw]   (no argument: both)
#
# MinIO is AGPL: it is only ever built and run as a separate binary, never
# imported. versitygw is Apache-2.0. The MinIO build takes ~3.5 minutes on 2
# cores, once. internal/tests3 reads the two pins below (its unit test fails
# if its constants differ from them) and runs this script when a binary is
# missing.
set -euo pipefail

MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
VERSITYGW_VERSION=v1.8.0

cache="${AGENTAUDIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-agentaudit-test}"
bindir="$cache/bin"
mkdir -p "$bindir"

# On exit, also when killed: stop a running build (else the orphaned go
# install would finish into the removed directory) and remove its directory.
tmp="" child=""
cleanup() {
	[ -z "$child" ] || kill "$child" 2>/dev/null || true
	[ -z "$child" ] || wait "$child" 2>/dev/null || true
	[ -z "$tmp" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# build NAME PACKAGE VERSION: go install into a temporary GOBIN inside the
# cache, then rename into place. The rename is atomic (same file system), so a
# killed build never leaves a half-written binary under the final name.
build() {
	local name=$1 pkg=$2 version=$3
	local dest="$bindir/$name-$version"
	if [ -x "$dest" ]; then
		echo "test-servers: $name $version: $dest"
		return
	fi
	tmp=$(mktemp -d "$bindir/.build-$name.XXXXXX")
	echo "test-servers: building $pkg@$version into $dest"
	local start=$SECONDS
	GOBIN="$tmp" go install "$pkg@$version" &
	child=$!
	wait "$child"
	child=""
	mv -f "$tmp/$name" "$dest"
	rm -rf "$tmp"
	tmp=""
	echo "test-servers: built $name $version in $((SECONDS - start))s"
}

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(minio versitygw)
for w in "${want[@]}"; do
	case "$w" in
	minio) build minio github.com/minio/minio "$MINIO_VERSION" ;;
	versitygw) build versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION" ;;
	*) echo "test-servers: unknown server $w (want minio or versitygw)" >&2; exit 2 ;;
	esac
done
