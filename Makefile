# CAVRA: one binary. `make run` serves on embedded defaults; `make test` passes every test.
GO       ?= go
BIN      ?= bin/cavra
PKGS     ?= ./...
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build run test test-deps vet lint bench fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/cavra

# The product on embedded defaults: a hook needs no server, so `run` shows the decision engine
# judging a sample; `cavra serve` arrives with the control-plane server.
run: build
	@./$(BIN) policy list
	@echo '{"kind":"command.exec","cwd":"/repo","command":{"line":"git push --force origin main"}}' | ./$(BIN) eval

# Installs what Go cannot fetch (SoftHSM2 and local-kms for the key-custody tests, the npm MCP
# servers for the gateway tests), then vets and runs every test.
test: test-deps vet
	$(GO) test -count=1 $(PKGS)

test-deps:
	@sh scripts/install-test-deps.sh
	@sh scripts/install-mcp-peers.sh

vet:
	$(GO) vet $(PKGS)

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

# Benchmarks that print the issue's performance figures.
bench: build
	$(GO) test -run '^$$' -bench . -benchtime 2s ./internal/engine/ ./internal/engine/shell/ ./internal/engine/secrets/
	$(GO) run ./internal/bench/hookbench -bin ./$(BIN) -runs 500

# A short run of every fuzz target, 20 s each.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime 20s $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
