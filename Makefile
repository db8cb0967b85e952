# make run   builds everything and starts `mfd serve` with its defaults.
# make test  installs what the tests need and runs every test.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test fuzz bench bench-input deps deps-test panel panel-check server-only dist clean

all: build

deps:
	@scripts/deps.sh build

deps-test:
	@scripts/deps.sh test

panel: deps
	@if [ -f panel/package.json ]; then cd panel && npm run --silent build; fi

# panel-check type-checks the panel's JavaScript (tsc --noEmit over its
# JSDoc types) and fails when the committed panel/dist is not what a fresh
# build of panel/src gives. make test runs it before build rewrites dist.
panel-check: deps
	@if [ -f panel/package.json ]; then cd panel && npm run --silent check; fi

build: deps panel
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/mfd ./cmd/mfd

# server-only builds the binary without cgo and without the X11 backend, as
# the container image does.
server-only: panel
	CGO_ENABLED=0 $(GO) build -tags nox11 -ldflags "$(LDFLAGS)" -o bin/mfd-server ./cmd/mfd

# dist cross-builds the release into $(DIST): mfd-linux-amd64,
# mfd-linux-arm64, mfd-windows-amd64.exe, mfd-windows-arm64.exe, an archive
# of each and SHA256SUMS (scripts/dist.sh says how).
DIST ?= dist
dist: deps panel
	DIST=$(DIST) GO=$(GO) scripts/dist.sh $(VERSION)

run: build
	./bin/mfd serve

test: deps-test
	@$(MAKE) --no-print-directory panel-check
	@$(MAKE) --no-print-directory build
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	@$(MAKE) --no-print-directory fuzz
	@if [ -f test/package.json ]; then cd test && npm test --silent; fi

# fuzz runs each fuzz target for FUZZTIME on top of its committed corpus
# (testdata/fuzz): the command decoder, the topic ACL, token parsing and the
# /authorise body.
FUZZTIME ?= 10s
fuzz:
	$(GO) test ./agent -run '^$$' -fuzz '^FuzzDecodeCommand$$' -fuzztime $(FUZZTIME)
	$(GO) test ./broker -run '^$$' -fuzz '^FuzzFilterACL$$' -fuzztime $(FUZZTIME)
	$(GO) test ./authsvc -run '^$$' -fuzz '^FuzzVerifyToken$$' -fuzztime $(FUZZTIME)
	$(GO) test ./authsvc -run '^$$' -fuzz '^FuzzAuthoriseBody$$' -fuzztime $(FUZZTIME)

bench: deps-test build
	$(GO) run ./cmd/mfdbench $(BENCHFLAGS)
	@$(MAKE) --no-print-directory bench-input

# bench-input measures the input backends side by side in one run: tap
# latency and typing rate through XTest on Xvfb and through the wlroots
# virtual keyboard on headless sway.
bench-input:
	$(GO) test -run '^$$' -bench 'X11|Wlroots' -benchtime 2s ./input/x11 ./input/wlroots

clean:
	rm -rf bin dist
