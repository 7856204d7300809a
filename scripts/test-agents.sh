#!/usr/bin/env bash
# Installs the real AI agents the end-to-end tests run against the built
# collector (tests/realagents_test.go), each pinned here and only here, from
# npm into the test cache:
#
#   ${AGENTAUDIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-agentaudit-test}/agents/NAME-VERSION
#
# The tests run them without an account (no login, no network beyond
# 127.0.0.1): what they send before they give up, hooks and OpenTelemetry
# events, is what the tests check. Needs node and npm (Debian nodejs and
# npm; make deps installs them when missing).
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.332
CODEX_VERSION=0.171.0

cache="${AGENTAUDIT_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/otelcol-agentaudit-test}"
dir="$cache/agents"
mkdir -p "$dir"

# install NAME PACKAGE VERSION: npm install into a temporary directory in the
# cache, then rename into place, so an interrupted install never leaves a
# half-installed agent under the final name.
install() {
	local name=$1 pkg=$2 version=$3
	local dest="$dir/$name-$version"
	[ -x "$dest/node_modules/.bin/$name" ] && return 0
	local tmp
	tmp=$(mktemp -d "$dir/.install-XXXXXX")
	echo "test-agents: installing $pkg@$version"
	if ! (cd "$tmp" && npm install --silent --no-audit --no-fund "$pkg@$version" >/dev/null); then
		rm -rf "$tmp"
		echo "test-agents: npm install $pkg@$version failed" >&2
		return 1
	fi
	rm -rf "$dest"
	mv "$tmp" "$dest"
}

install claude @anthropic-ai/claude-code "$CLAUDE_CODE_VERSION"
install codex @openai/codex "$CODEX_VERSION"
