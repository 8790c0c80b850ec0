# persy-go's everyday commands. `make test` is what CI runs.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# rapid's runs per property in `make test`: quick, but enough to shrink
# and replay; `make sim` explores at scale.
RAPID_CHECKS ?= 50
SIMFLAGS    ?=
FUZZTIME    ?= 30s
BENCHFLAGS  ?= -benchtime 1s -count 1

.PHONY: test lint fmt-check vet staticcheck sim bench fuzz

test: lint
	RAPID_CHECKS=$(RAPID_CHECKS) $(GO) test -race -count=1 -timeout 18m ./...

lint: fmt-check vet staticcheck

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# staticcheck is fetched through the module proxy at a pinned version.
staticcheck:
	$(GO) run $(STATICCHECK) ./...

# The crash simulator over every workload it knows: a table of what it
# explored and found. SIMFLAGS passes flags, e.g. SIMFLAGS='-checks 2000 -seed 7'.
sim:
	$(GO) run ./cmd/persy sim $(SIMFLAGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./...

# Each fuzz target for FUZZTIME; go test fuzzes one target at a time.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseSchedule$$' -fuzztime $(FUZZTIME) ./sim
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./page
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./page
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./journal
