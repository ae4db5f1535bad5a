# CAVRA: one binary, plus cavra-hook, the lean agent-host hook that starts in a millisecond.
# `make run` serves on embedded defaults; `make test` passes every test.
GO       ?= go
BIN      ?= bin/cavra
HOOK_BIN ?= $(dir $(BIN))cavra-hook
PKGS     ?= ./...
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run test test-deps vet lint bench fuzz clean

all: build

# cavra-hook runs the cavra beside it (the local decision daemon, hand-overs), so both go in one
# directory. It is linked statically (no cgo): loading libc costs a millisecond per hook call.
build:
	$(GO) build -o $(BIN) ./cmd/cavra
	CGO_ENABLED=0 $(GO) build -o $(HOOK_BIN) ./cmd/cavra-hook

# The product on embedded defaults: the control plane on 127.0.0.1:8080 with SQLite, keys and an
# embedded NATS JetStream in the data home ($$CAVRA_HOME, else ~/.local/share/cavra).
run: build
	./$(BIN) serve

# Installs what Go cannot fetch (SoftHSM2 and local-kms for the key-custody tests, the npm MCP
# servers for the gateway tests), then vets and runs every test.
test: test-deps vet
	$(GO) test -count=1 $(PKGS)

test-deps:
	@sh scripts/install-test-deps.sh
	@sh scripts/install-mcp-peers.sh
	@sh scripts/install-openapi-lint.sh

vet:
	$(GO) vet $(PKGS)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

# Benchmarks that print the issues' performance figures. Postgres figures need CAVRA_TEST_POSTGRES;
# the 1M-entry audit benchmarks build (once, under /tmp) a million-entry log first.
bench: build
	$(GO) test -run '^$$' -bench 'DecideBaseline$$' -benchtime 5s -cpu 1 -count 3 -benchmem ./internal/engine/
	$(GO) test -run '^$$' -bench 'DecideBaselineByAction' -benchtime 20000x -cpu 1 -benchmem ./internal/engine/
	$(GO) run ./internal/bench/hookbench -bin ./$(BIN) -runs 500
	$(GO) test -run '^$$' -bench 'DurableAppend|LocalOpenAppendClose|InclusionProof1M' -benchtime 3s ./internal/audit/
	$(GO) test -run '^$$' -bench Verify1M -benchtime 1x ./internal/audit/
	$(GO) test -run '^$$' -bench . -benchtime 3x -cpu 1 ./internal/scan/
	$(GO) test -run '^$$' -bench 'AddedLatency|Throughput|Raw' -benchtime 3000x ./internal/mcpgw/
	$(GO) test -run '^$$' -bench 'DecisionsEndpoint' -benchtime 3s ./internal/httpapi/
	$(GO) run ./internal/bench/serverbench -bin ./$(BIN) -duration 20s -mode throughput -concurrency 16 -hook-runs 300

# A short run of every fuzz target, 20 s each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 20s $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
