SHELL := /bin/bash
# The two commands: `make run` and `make test`. Everything else is a part of them.
GO        ?= go
BIN       := _build/otelcol-agentaudit
AUDITCTL  := _build/auditctl
DATA_DIR  ?= ./var
# Set FUZZTIME=2m for a longer fuzzing run; the test suite runs a short one.
FUZZTIME  ?= 10s
GOFILES    = $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './_build/*')

.PHONY: build run test deps lint generate unit e2e fuzz vulncheck bench faults clean

# Debian packages the tests run against: swtpm (the software TPM) with
# swtpm-tools, tpm2-tools (independent TPM checks), openssl (the local
# RFC 3161 time-stamp authority), liblognorm-utils (lognormalizer, the strict
# CEF parser the CEF formatter is checked with), syslog-ng-core (syslog-ng,
# the syslog server the SIEM exporter's syslog transport is checked against),
# nodejs and npm (to install and run the real Claude Code and Codex the
# agent tests use), jq (scripts/vulncheck.sh reads govulncheck's JSON with
# it). Each entry is command:package.
TEST_TOOLS := swtpm:swtpm swtpm_setup:swtpm-tools tpm2_createprimary:tpm2-tools openssl:openssl lognormalizer:liblognorm-utils syslog-ng:syslog-ng-core node:nodejs npm:npm jq:jq

## build: the collector binary, with ocb pinned in go.mod (go tool builder), and auditctl
build:
	$(GO) tool builder --config builder-config.yaml
	$(GO) build -o $(AUDITCTL) ./cmd/auditctl

## run: build, then run the collector on the embedded defaults (data in ./var).
## The first run makes a software signing key and var/keys/trust.txt.
run: build
	@test -f $(DATA_DIR)/keys/agentaudit-local.key || ./$(AUDITCTL) keygen --out $(DATA_DIR)/keys --name agentaudit-local
	AGENTAUDIT_DATA_DIR=$(DATA_DIR) ./$(BIN) --config distributions/local/config.yaml

## test: everything CI runs: lint, generated code, unit, end-to-end (with the
## bounded fault runs), fuzz tests and the vulnerability scan
test: deps lint generate-check unit e2e fuzz vulncheck

## deps: install the Debian packages of TEST_TOOLS that are missing, build
## the S3 test servers (MinIO, versitygw) pinned in scripts/test-servers.sh
## into the test cache (the MinIO build takes ~3.5 min, once), and install
## the real agents pinned in scripts/test-agents.sh (Claude Code, Codex; npm).
deps:
	@missing=""; for tp in $(TEST_TOOLS); do command -v $${tp%%:*} >/dev/null || missing="$$missing $${tp#*:}"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@scripts/test-servers.sh
	@scripts/test-agents.sh

lint:
	@bad=$$(gofmt -l $(GOFILES)); if [ -n "$$bad" ]; then echo "gofmt needed:"; echo "$$bad"; exit 1; fi
	$(GO) vet ./...

## generate: regenerate mdatagen code from each component's metadata.yaml
generate:
	$(GO) generate ./receiver/... ./exporter/... ./processor/... ./extension/... ./connector/...

# Fails when metadata.yaml and the committed generated code disagree.
generate-check: generate
	@git diff --exit-code -- receiver exporter processor extension connector || (echo "generated code is stale: run make generate and commit"; exit 1)

unit:
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /tests)

## e2e: end-to-end tests against the built binary (tests/)
e2e: build
	AGENTAUDIT_BIN=$(abspath $(BIN)) AUDITCTL_BIN=$(abspath $(AUDITCTL)) $(GO) test -count=1 -timeout 20m -v ./tests/ 2>&1 | tee _build/e2e.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|e2e:' ; exit $${PIPESTATUS[0]}

# scripts/fuzz.sh runs one target (-fuzzminimizetime 1s: the default, 60s
# per new input, spends a short run minimizing instead of fuzzing) and works
# around Go 1.26's spurious deadline failure at the fuzztime boundary.
fuzz:
	scripts/fuzz.sh ./connector/genaiconnector FuzzGenAISpans $(FUZZTIME)
	scripts/fuzz.sh ./pkg/archive FuzzDecodeObject $(FUZZTIME)
	scripts/fuzz.sh ./pkg/auditrecord FuzzDecode $(FUZZTIME)
	scripts/fuzz.sh ./pkg/integrity FuzzCanonical $(FUZZTIME)
	scripts/fuzz.sh ./pkg/integrity FuzzParseLine $(FUZZTIME)
	scripts/fuzz.sh ./pkg/integrity FuzzVerifyTimestampToken $(FUZZTIME)
	scripts/fuzz.sh ./pkg/integrity FuzzVerifyTPMEvidence $(FUZZTIME)
	scripts/fuzz.sh ./pkg/secrets FuzzFind $(FUZZTIME)
	scripts/fuzz.sh ./pkg/siem FuzzCEF $(FUZZTIME)
	scripts/fuzz.sh ./pkg/siem FuzzECS $(FUZZTIME)
	scripts/fuzz.sh ./pkg/siem FuzzLEEF $(FUZZTIME)
	scripts/fuzz.sh ./processor/agentnormalizeprocessor FuzzAgentNormalize $(FUZZTIME)
	scripts/fuzz.sh ./processor/scrubprocessor FuzzScrub $(FUZZTIME)
	scripts/fuzz.sh ./receiver/agentauditreceiver FuzzClaudeCodeHook $(FUZZTIME)
	scripts/fuzz.sh ./receiver/agentauditreceiver FuzzTranscriptLine $(FUZZTIME)

## vulncheck: govulncheck (pinned in go.mod) against an offline Go vulnerability
## database built from the pinned golang.org/x/vulndb module (vuln.go.dev is
## not reachable here); fails on a reachable finding that
## scripts/vulncheck-allow.txt does not explain (docs/security.md)
vulncheck: build
	scripts/vulncheck.sh --self-test
	scripts/vulncheck.sh

## bench: component benchmarks, receiver-to-archive, and the three pipelines
## under the load generator (BenchmarkPipelines, which rewrites its table in
## docs/benchmarks.md; it needs the benchmark distribution with contrib's
## redactionprocessor, builder-config-bench.yaml, built into _build/bench).
bench: build
	@mkdir -p _build/bench
	$(GO) tool builder --config builder-config-bench.yaml
	$(GO) test -run '^$$' -bench . -benchtime 2s ./pkg/...
	$(GO) test -run '^$$' -bench SlowSigner -benchtime 3s ./processor/signprocessor
	$(GO) test -run '^$$' -bench BenchmarkScrub -benchtime 2s -count 3 ./processor/scrubprocessor
	$(GO) test -run '^$$' -bench TPMSign -benchtime 3s ./extension/signerextension
	$(GO) test -run '^$$' -bench 'Normalize|GenAISpans|ClaudeCodeHook' -benchtime 2s -cpu 1 ./processor/agentnormalizeprocessor ./connector/genaiconnector ./receiver/agentauditreceiver
	GOMAXPROCS=1 $(GO) test -run '^$$' -bench . -benchtime 5x ./cmd/auditctl
	AGENTAUDIT_BIN=$(abspath $(BIN)) $(GO) test -run '^$$' -bench BenchmarkReceiverToArchive -benchtime 3x -count 1 ./tests/
	# The collector pinned to CPU 0 by the benchmark, the load generator (this test process) to CPU 1.
	AGENTAUDIT_BIN=$(abspath $(BIN)) AUDITCTL_BIN=$(abspath $(AUDITCTL)) AGENTAUDIT_BENCH_BIN=$(abspath _build/bench/otelcol-agentaudit-bench) \
		BENCH_WRITE_DOCS=1 BENCH_COLLECTOR_CPU=0 taskset -c 1 $(GO) test -run '^$$' -bench BenchmarkPipelines -benchtime 1x -timeout 30m ./tests/

## faults: long forms of the fault suite: archive and state disks full for
## 60 s, SIEM down 3 min, 10x overload 60 s, 20 random SIGKILLs under load
## (make test runs the same tests in bounded form). Needs root (mounts tmpfs).
faults: build
	AGENTAUDIT_BIN=$(abspath $(BIN)) AUDITCTL_BIN=$(abspath $(AUDITCTL)) \
	AGENTAUDIT_FAULT_DISK_FULL=60s AGENTAUDIT_FAULT_SIEM_DOWN=3m AGENTAUDIT_FAULT_OVERLOAD=60s AGENTAUDIT_FAULT_KILLS=20 \
	$(GO) test -count=1 -timeout 60m -v -run 'TestFault|TestOverload|TestCrashLosesNoAcknowledgedEvent' ./tests/ 2>&1 | tee _build/faults.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|e2e:' ; exit $${PIPESTATUS[0]}

clean:
	rm -rf _build var
