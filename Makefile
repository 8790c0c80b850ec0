# persy-go's everyday commands. `make test` is what CI runs.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# rapid's runs per property in `make test`: quick, but enough to shrink
# and replay; `make sim` explores at scale.
RAPID_CHECKS ?= 50
SIMFLAGS    ?=
# MUTANT switches on one seeded protocol bug (internal/mutant) for make sim.
MUTANT      ?=
MUTANTS     := journal-reuse-unscrubbed journal-pages-unstamped journal-head-unmarked pages-unaligned one-phase-prepared references-unchecked cut-entry-unclipped format-not-atomic close-hides-failure lost-free-unreported refill-unsynced \
               journal-page-unsynced sync-error-ignored root-before-pages grow-unsynced freed-reused-early frees-unlisted \
               snapshot-pages-freed rollback-keeps-journal checkpointed-redone zero-page-valid txid-unchecked pack-freed-early
FUZZTIME    ?= 30s
BENCHFLAGS  ?= -benchtime 1s -count 1

.PHONY: test lint fmt-check vet cross staticcheck sim mutants replay-mutants cover-sim bench bench-go fuzz

# Every package under the race detector and the invariants tag (a broken
# invariant panics; internal/invariant) but properties, which runs
# without them: its simulation is one goroutine, which the detector slows
# twentyfold and finds nothing in, and without it every row of every
# workload fits CI's budget. The invariant tests run once more in the
# default build, where a broken invariant is an ErrInternal.
test: lint
	RAPID_CHECKS=$(RAPID_CHECKS) $(GO) test -race -tags invariants -count=1 -timeout 15m $$($(GO) list ./... | grep -v '/properties$$')
	$(GO) test -count=1 -run 'Invariant|Violated' ./txn ./internal/invariant
	RAPID_CHECKS=$(RAPID_CHECKS) $(GO) test -count=1 -timeout 15m ./properties

lint: fmt-check vet cross staticcheck

# Every package, its tests included, builds and vets on each platform
# persy-go supports (linux/amd64 is vet's); the simulated disk and the
# properties run anywhere.
PLATFORMS   ?= linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64 freebsd/arm64 windows/amd64 windows/arm64

fmt-check:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

cross:
	@for p in $(PLATFORMS); do \
		echo "go vet ./... for $$p"; \
		GOOS=$${p%/*} GOARCH=$${p#*/} $(GO) vet ./... || exit 1; \
	done

# staticcheck is fetched through the module proxy at a pinned version.
staticcheck:
	$(GO) run $(STATICCHECK) ./...

# The crash simulator over every workload it knows: a table of what it
# explored and found. SIMFLAGS passes flags, e.g. SIMFLAGS='-checks 2000 -seed 7'.
sim:
	PERSY_MUTANT=$(MUTANT) $(GO) run $(if $(MUTANT),-tags mutants) ./cmd/persy sim $(SIMFLAGS)

# Each seeded protocol bug in turn, explored as make sim does until a row
# catches it: every one must be caught (a FAILED row; persy sim exits 1).
# One line per bug: the row that caught it, the length of the shrunk
# schedule that replays the failure, the time the run took to get there
# (every row before it included), and the trace hash of that schedule
# replayed twice, which must agree.
# The exploration is make sim's: every row, at its default time budget,
# each row by its share (the journal's single-page sweeps and
# engine-chain's linux-strict rows get the most: the seeded bugs that
# need a tear, a dropped scrub and the rewrite of the torn page meet
# there). MUTANTFLAGS adds flags, e.g. MUTANTFLAGS='-checks 100' for a
# budget in runs.
MUTANTBIN   := .persy-sim/persy-mutants
MUTANTFLAGS ?=
mutants:
	@mkdir -p .persy-sim && $(GO) build -tags mutants -o $(MUTANTBIN) ./cmd/persy
	@for m in $(MUTANTS); do \
		if PERSY_MUTANT=$$m $(MUTANTBIN) sim -failfast -progress off $(MUTANTFLAGS) $(SIMFLAGS) > .persy-sim-mutant.log 2>&1; then \
			cat .persy-sim-mutant.log; echo "MISSED: $$m"; rm -f .persy-sim-mutant.log; exit 1; \
		fi; \
		row=$$(awk '$$NF == "FAILED" { print $$1, $$2, $$3; exit }' .persy-sim-mutant.log); \
		if [ -z "$$row" ]; then cat .persy-sim-mutant.log; echo "NO ROW FAILED: $$m"; rm -f .persy-sim-mutant.log; exit 1; fi; \
		set -- $$row; \
		n=$$(grep -F "  $$1 on $$2 ($$3): shrunk to " .persy-sim-mutant.log | head -1 | sed 's/.*shrunk to \([0-9]*\) decisions.*/\1/'); \
		f=$$(awk -v row="  $$1 on $$2 ($$3): shrunk to " 'index($$0, row) == 1 { on = 1 } on && /\.schedule$$/ { print $$1; exit }' .persy-sim-mutant.log); \
		t=$$(sed -n 's/.*rows went wrong.*(after \(.*\))$$/\1/p' .persy-sim-mutant.log); \
		h1=$$(PERSY_MUTANT=$$m $(MUTANTBIN) replay $$f 2>&1 | sed -n 's/^reproduced .*trace sha256 //p'); \
		h2=$$(PERSY_MUTANT=$$m $(MUTANTBIN) replay $$f 2>&1 | sed -n 's/^reproduced .*trace sha256 //p'); \
		if [ -z "$$h1" ] || [ "$$h1" != "$$h2" ]; then echo "$$m: $$f does not replay the same twice ($$h1, $$h2)"; exit 1; fi; \
		echo "$$m: caught by $$1/$$2/$$3, shrunk to $$n decisions, in $$t; replayed twice, trace $$(echo $$h1 | cut -c1-12)"; \
	done; rm -f .persy-sim-mutant.log
	@echo "every seeded bug in MUTANTS caught by the exploration"

# Statement coverage of the journal, the page layer (allocator, root
# state), segments and txn (recovery, checkpoints) reached by the crash
# properties alone, no unit test: TestProperties with the runs a row it
# sets itself (RAPID_CHECKS does not change them), on one rapid seed so
# that figures compare. By package and by file, then the functions of
# recovery and checkpoints, and those of the journal, the allocator and
# the root state short of 100%. About a minute on two cores.
COVERPKGS   ?= ./journal,./page,./segment,./txn
COVERSEED   ?= 1
COVEROUT    ?= .cover-sim.out
MODULE      := github.com/gopersy/persy
cover-sim:
	$(GO) test -count=1 -run '^TestProperties$$' -coverpkg=$(COVERPKGS) -coverprofile=$(COVEROUT) ./properties -rapid.seed=$(COVERSEED)
	@$(GO) tool cover -func=$(COVEROUT) | sed 's|^$(MODULE)/||' > $(COVEROUT).func
	@echo "== statements the crash properties reach, by package and file"
	@awk -v mod='$(MODULE)/' 'NR > 1 { n[$$1] = $$2; if ($$3 > 0) hit[$$1] = 1 } \
	END { \
		for (k in n) { \
			f = k; sub(/:.*/, "", f); if (index(f, mod) == 1) f = substr(f, length(mod) + 1); \
			p = f; sub(/\/[^\/]*$$/, "", p); \
			ps[p] += n[k]; fs[f] += n[k]; all += n[k]; \
			if (hit[k]) { pc[p] += n[k]; fc[f] += n[k]; cov += n[k] } \
		} \
		for (p in ps) printf "%-24s %5d of %5d  %5.1f%%\n", p, pc[p], ps[p], 100 * pc[p] / ps[p] | "sort"; \
		for (f in fs) printf "%-24s %5d of %5d  %5.1f%%\n", f, fc[f], fs[f], 100 * fc[f] / fs[f] | "sort"; \
		close("sort"); \
		printf "%-24s %5d of %5d  %5.1f%%\n", "total", cov, all, 100 * cov / all \
	}' $(COVEROUT)
	@echo "== recovery and checkpoints"
	@grep -E '^txn/recover\.go:|^txn/[a-z]+\.go:[0-9]+:[[:space:]]+[A-Za-z]*[Cc]heckpoint' $(COVEROUT).func
	@echo "== journal, allocator and root state: functions short of 100%"
	@grep -E '^(journal/journal|page/alloc|page/root)\.go:' $(COVEROUT).func | grep -v '100\.0%$$'
	@tail -1 $(COVEROUT).func

# The committed schedules of seeded bugs (internal/mutant/testdata, each
# named after its bug) replayed twice with their bug switched on: each
# must reproduce its failure and print the same trace hash both times.
replay-mutants:
	@mkdir -p .persy-sim && $(GO) build -tags mutants -o $(MUTANTBIN) ./cmd/persy
	@for f in internal/mutant/testdata/*.schedule; do \
		m=$$(basename $$f .schedule); \
		h1=$$(PERSY_MUTANT=$$m $(MUTANTBIN) replay $$f | sed -n 's/^reproduced .*trace sha256 //p'); \
		h2=$$(PERSY_MUTANT=$$m $(MUTANTBIN) replay $$f | sed -n 's/^reproduced .*trace sha256 //p'); \
		if [ -z "$$h1" ] || [ "$$h1" != "$$h2" ]; then echo "$$f: not reproduced the same twice ($$h1, $$h2)"; exit 1; fi; \
		echo "$$m: $$f reproduced twice, trace sha256 $$h1"; \
	done

# The table beside bbolt and Pebble (bench/, a module of its own, so
# the peers never enter the library's go.mod); BENCH_ARGS for its flags.
BENCH_ARGS  ?=
bench:
	cd bench && $(GO) run . $(BENCH_ARGS)

# The library's own go test benchmarks, for benchstat.
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./...

# Each fuzz target for FUZZTIME; go test fuzzes one target at a time.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseSchedule$$' -fuzztime $(FUZZTIME) ./sim
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./page
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./page
	$(GO) test -run '^$$' -fuzz '^FuzzRead$$' -fuzztime $(FUZZTIME) ./journal
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCatalog$$' -fuzztime $(FUZZTIME) ./segment
