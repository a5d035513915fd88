# campfire: make run starts the challenge server on :2022, make test runs
# every check CI runs.
GO       ?= go
BIN      := bin/campfire
FUZZTIME ?= 30s
# VCS stamps the git revision into the binary (campfire version) even where
# GOFLAGS turns it off.
VCS      := -buildvcs=auto
PKGS     := ./...

.PHONY: all run cluster build install test tools fmt-check vet fuzz bench compare cover screenshot clean

all: build

run:
	$(GO) run . serve -addr 0.0.0.0:2022

# cluster runs three nodes of one camp on this machine in the foreground
# (CAMP on 2022, 2023 and 2024, side ports 127.0.0.1:2080-2082), every log
# line prefixed with its node's name; Ctrl-C stops all three. Knobs:
# bench/cluster.sh.
cluster: build
	bash bench/cluster.sh

build:
	$(GO) build $(VCS) -o $(BIN) .

# install puts the campfire command where go install puts commands ($GOBIN,
# else $GOPATH/bin), says where, and says so when that is not on PATH.
install:
	$(GO) install $(VCS) .
	@dir=$$($(GO) env GOBIN); [ -n "$$dir" ] || dir=$$($(GO) env GOPATH | cut -d: -f1)/bin; \
	echo "installed $$dir/campfire"; \
	case ":$$PATH:" in \
	*":$$dir:"*) ;; \
	*) echo "$$dir is not on your PATH: add it (export PATH=\"\$$PATH:$$dir\") or run $$dir/campfire";; \
	esac

# test runs every package, then the server suite again with two event loops,
# where the camp is reached across loops, then the allocation tests without
# -race (under it sync.Pool drops items at random, so crypto/tls allocates
# and bench's TLS cases skip).
test: tools fmt-check vet
	$(GO) test -count=1 -run Allocs ./bench ./groups ./protocol ./server ./server/metrics
	$(GO) test -race -count=1 $(PKGS)
	$(GO) test -race -count=1 ./server -args -loops=2

# tools installs what the tests need besides Go, from Debian's packages
# (root or sudo): tmux drives the terminal client's and telnet's tests,
# telnet is the real telnet of the Ctrl-C test, chromium renders the camp
# page in the browser test, haproxy is the TLS proxy of the deployment test
# (server/haproxy_test.go runs docs/deploy/haproxy.cfg).
TOOLS := tmux telnet chromium haproxy

tools:
	@missing=""; for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing for the tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq $$missing; \
	fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./protocol

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# compare: the same peers load against campfire and the conventional
# goroutine-per-connection server (bench/), side by side, every run repeated
# REPEAT times (default 3); LOOPS="1 2" runs campfire with each loop count.
# Prints medians and ranges, writes bin/compare/report.html (HTML=FILE).
# Knobs: see bench/compare.sh. Minutes, not for CI.
compare: build
	bash bench/compare.sh

# screenshot draws the camp page of a scripted camp in headless Chromium
# and writes docs/camp-page.png and docs/camp-page-phone.png (the README's).
screenshot: tools
	$(GO) test -count=1 -run '^TestScreenshot$$' ./server/web -args -screenshot=$(CURDIR)/docs/camp-page.png

cover:
	$(GO) test -count=1 -coverprofile=cover.out $(PKGS)
	$(GO) tool cover -func=cover.out | tail -n 1

clean:
	rm -rf bin cover.out
