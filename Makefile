# flint — see README.md. `make demo` and `make test` do all set-up themselves.
GO      ?= go
BIN     := bin/flint
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/flintboot/flint/cli.Version=$(VERSION)
# packages of the unit tier: everything but the black-box suites under tests/
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/tests/')
# root tiers run in a private mount namespace so no mount leaks to the host
PRIVATE := unshare -m --propagation private

.PHONY: all build deps test quick test-unit test-fuzz test-host test-fleet test-vm bench demo demo-offline lint schema clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/flint
	@ls -l $(BIN) | awk '{print "built " $$9 ": " $$5 " bytes"}'

deps:
	tests/deps/install.sh

# Every tier, as CI runs it.
test: deps build lint test-unit test-fuzz test-host test-fleet test-vm

# The quick loop for development: no VM boots.
quick: build test-unit

test-unit:
	$(PRIVATE) $(GO) test -count=1 $(UNIT_PKGS)

# Budgets are execution counts (about what 10-20 s gave on CI's 2 cores),
# not durations: a -fuzztime duration races the fuzzing coordinator's own
# deadline and fails now and then with a bare "context deadline exceeded"
# and no failing input when the machine is busy (CI saw it once).
test-fuzz:
	$(GO) test -run='^$$' -fuzz='^FuzzParse$$' -fuzztime=150000x ./config
	$(GO) test -run='^$$' -fuzz='^FuzzJSONLikeEncodingJSON$$' -fuzztime=80000x ./config
	$(GO) test -run='^$$' -fuzz='^FuzzLegacyParse$$' -fuzztime=100000x ./config/legacy
	@# validate is the gate: apply to a scratch root (as root) fails for a
	@# reason of the config's own only if validate refused it first
	$(PRIVATE) $(GO) test -run='^$$' -fuzz='^FuzzApplyFields$$' -fuzztime=5000x ./stages/engine
	$(PRIVATE) $(GO) test -run='^$$' -fuzz='^FuzzApplyAfterValidate$$' -fuzztime=1000x ./stages/engine

test-host: build
	@if [ -d tests/host ]; then $(PRIVATE) $(GO) test -count=1 -timeout 20m ./tests/host/...; fi

# 40 whole flint apply processes against one flaky, throttling loopback
# server (the full 200 run is bench/fleet)
test-fleet: build
	FLINT_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 5m ./tests/fleet/...

test-vm: build
	@if [ -d tests/vm ]; then $(GO) test -count=1 -timeout 60m ./tests/vm/...; fi
	$(GO) test -count=1 -timeout 40m ./tests/boot/...

# Each bench prints its own table; the headline rows are printed again
# together at the end, as one table.
BENCHES = files fetch config accounts disks fleet
bench: build
	@s=$$(mktemp); trap 'rm -f $$s' EXIT; \
	for b in $(BENCHES); do echo "== bench/$$b"; FLINT_BENCH_SUMMARY=$$s $(GO) run ./bench/$$b || exit 1; done; \
	echo "== summary (whole flint processes, fresh loop ext4, sync counted, floors from the same run)"; \
	$(GO) run ./bench/summary $$s

# Boots a QEMU guest (TCG) whose initramfs runs flint on examples/webserver.ign
# (CONFIG=... for another config, e.g. examples/failing.ign): installs what
# it needs, builds the dracut image (cached), shows the stages, then flint
# status / analyze blame and what flint wrote, from the provisioned root.
CONFIG ?= examples/webserver.ign
demo:
	@tests/deps/install.sh base boot kernel
	$(GO) run ./examples/demo -config $(CONFIG)

# The fast demo without a VM: validate the examples, flint plan and apply
# into a scratch directory.
demo-offline: build
	@./examples/demo-offline.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	@# the module graphs are tidy: the product's, and the test peers' (tests/peers)
	$(GO) mod tidy -diff
	cd tests/peers && $(GO) mod tidy -diff && $(GO) vet ./...

clean:
	rm -rf bin
