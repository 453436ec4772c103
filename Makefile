# Luma. `make example` deploys the example app blue-green on the local
# Docker engine; `make test` runs every test (installs and starts what the
# tests need first).
export PATH := /usr/local/go/bin:$(PATH)
GO      ?= go
BIN     := bin/luma
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.buildVersion=$(VERSION)

.PHONY: build test unit lint example example-clean deps hello bench-zdt bench-wrk

# luma must be static: luma-proxy runs this same binary FROM scratch.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/luma

hello:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w -X main.version=$(VERSION)' -o examples/hello/hello ./examples/hello

deps:
	./scripts/deps.sh

# All tests, unit and end-to-end (real Docker Engine, sshd and luma-proxy).
# test/e2e (8-11 min on 2 cores beside test/multiserver) is the longest
# package; the timeout leaves it room on a slower machine while the whole
# run stays under .ci/run's 20 minutes.
test: deps
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 18m ./...

# Unit tests only: no Docker, no sshd.
unit:
	$(GO) test -race -count=1 -short ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The main job: deploy examples/hello blue-green to the local engine. Run it
# again and traffic flips to the other color with no failed request.
example: deps build hello
	cd examples/hello && ../../$(BIN) setup && ../../$(BIN) deploy && ../../$(BIN) status
	@echo
	@echo "Try it:  curl -H 'Host: hello.localhost' http://127.0.0.1:8080/"
	@echo "Again:   make example   (flips to the other color)"

# The zero-downtime benchmark: constant-rate mixed load through luma-proxy
# while luma deploys 20 times in a row (docs/benchmarks.md). Override with
# e.g. make bench-zdt ZDT_FLAGS="-replicas 3 -rate 500".
ZDT_FLAGS ?= -deploys 20 -rate 300
bench-zdt: deps build
	$(GO) build -o bin/zdt ./bench/zerodowntime
	./bin/zdt -luma $(BIN) $(ZDT_FLAGS)

# Throughput: wrk through luma-proxy and straight to the same backend, in one
# run (scripts/bench-wrk.sh; installs wrk if missing). LUMA=path measures
# another build's proxy.
bench-wrk: deps build
	LUMA=$${LUMA:-$(BIN)} ./scripts/bench-wrk.sh

example-clean:
	-docker rm -f $$(docker ps -aq --filter label=luma.project=example) 2>/dev/null
