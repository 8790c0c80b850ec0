package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopersy/persy/sim"
)

// TestMain serves as a worker of persy sim when one of the tests starts
// this binary as one.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		// A worker told to die once dies before its first row, the first
		// time: TestSimWorkerDies.
		if f := os.Getenv("PERSY_TEST_WORKER_DIES_ONCE"); f != "" {
			if _, err := os.Stat(f); err != nil {
				_ = os.WriteFile(f, nil, 0o644)
				os.Exit(3)
			}
		}
		os.Exit(serveWorker(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

func TestSimTable(t *testing.T) {
	var out, errs bytes.Buffer
	dir := t.TempDir()
	code := runSim([]string{"-checks", "20", "-seed", "5", "-strategy", "barriers,sweep", "-profile", "linux-strict", "-workload", "^append-log", "-out", dir}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errs.String())
	}
	table := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\s+append-log\s+linux-strict\s+barriers\s+\d+\s+\d+\s+[1-9]\d*\s+\d+\s+0\s+clean$`),
		regexp.MustCompile(`(?m)^\s+append-log-missing-barrier\s+linux-strict\s+sweep\s+\d+\s+\d+\s+[1-9]\d*\s+\d+\s+[1-9]\d*\s+caught$`),
		regexp.MustCompile(`every correct workload clean, every broken one caught`),
		regexp.MustCompile(`(?m)^\s+total\s+\d+\s+[1-9]\d*\s+\d+\s*$`),
	} {
		if !want.MatchString(table) {
			t.Errorf("the table lacks %v:\n%s", want, table)
		}
	}
	// The failures it wrote replay.
	files, _ := filepath.Glob(filepath.Join(dir, "*.schedule"))
	if len(files) == 0 {
		t.Fatal("no schedule written for the caught failure")
	}
	out.Reset()
	if code := replayFiles(files, &out, &errs); code != 0 || !strings.Contains(out.String(), "reproduced append-log-missing-barrier") {
		t.Fatalf("replay exit %d:\n%s%s", code, out.String(), errs.String())
	}
}

func TestSimRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-strategy", "nope"}, {"-profile", "nope"}, {"-workload", "("}, {"stray"}, {"-workload", "nothing-matches"}} {
		var out, errs bytes.Buffer
		if code := runSim(args, &out, &errs); code != 2 || errs.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs.String())
		}
	}
}

func TestReplayMissingFile(t *testing.T) {
	var out, errs bytes.Buffer
	if code := replayFiles([]string{filepath.Join("..", "..", "sim", "testdata", "missing.schedule")}, &out, &errs); code != 1 {
		t.Errorf("a missing file: exit %d", code)
	}
}

// TestSimTimeBudget: with -time a row runs rounds until its share of
// the budget is spent, more runs than one round.
func TestSimTimeBudget(t *testing.T) {
	var out, errs bytes.Buffer
	code := runSim([]string{"-time", "1s", "-parallel", "1", "-seed", "3", "-strategy", "barriers", "-profile", "linux-strict", "-workload", "^append-log$", "-out", t.TempDir()}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errs.String())
	}
	m := regexp.MustCompile(`(?m)^\s+append-log\s+linux-strict\s+barriers\s+(\d+)\s`).FindStringSubmatch(out.String())
	if m == nil || !strings.Contains(out.String(), "a budget of 1s") {
		t.Fatalf("no row, or no budget said:\n%s", out.String())
	}
	if runs, _ := strconv.Atoi(m[1]); runs <= sim.RoundChecks {
		t.Fatalf("%d runs in a second of a workload whose runs take milliseconds: one round only", runs)
	}
}

// TestSimExitsOneOnAMiss: a row gone wrong (here a broken workload one
// run does not catch) ends with the table and exit status 1.
func TestSimExitsOneOnAMiss(t *testing.T) {
	var out, errs bytes.Buffer
	code := runSim([]string{"-checks", "1", "-parallel", "1", "-seed", "5", "-strategy", "random", "-workload", "^append-log-missing-barrier$", "-out", t.TempDir()}, &out, &errs)
	if code != 1 || !regexp.MustCompile(`(?m)\sMISSED$`).MatchString(out.String()) || !strings.Contains(out.String(), "1 rows went wrong") {
		t.Fatalf("exit %d, want 1 with the row MISSED:\n%s%s", code, out.String(), errs.String())
	}
}

// TestSimProgressLine: the progress says the rows done, the crash states
// so far, their rate, the time left and the rows under way.
func TestSimProgressLine(t *testing.T) {
	start := time.Unix(1000, 0)
	b := &board{
		f:       simFlags{budget: 100 * time.Second, parallel: 2, rows: []simRow{{Workload: "a", Profile: "p", Strategy: "s"}, {Workload: "b", Profile: "p", Strategy: "s"}}},
		start:   start,
		end:     start.Add(100 * time.Second),
		results: []rowResult{{done: true, started: true, Report: sim.Report{States: 300}}, {started: true, Report: sim.Report{States: 100}}},
	}
	now := start.Add(40 * time.Second)
	line := b.progressLine(now, false)
	for _, want := range []string{"1/2 rows", "400 crash states", "10/s", "1m0s left", "b/p/s", "(40%)"} {
		if !strings.Contains(line, want) {
			t.Errorf("progress %q lacks %q", line, want)
		}
	}
	if bar := b.progressLine(now, true); !strings.HasPrefix(bar, "[=========               ] ") {
		t.Errorf("bar %q: want 40%% of 24 filled", bar)
	}
}

// TestSimWorkerDies: a worker that dies is replaced and its row explored
// by the new one.
func TestSimWorkerDies(t *testing.T) {
	t.Setenv("PERSY_TEST_WORKER_DIES_ONCE", filepath.Join(t.TempDir(), "died"))
	var out, errs bytes.Buffer
	code := runSim([]string{"-checks", "3", "-parallel", "2", "-seed", "3", "-strategy", "barriers,yields", "-profile", "linux-strict", "-workload", "^append-log$", "-out", t.TempDir()}, &out, &errs)
	if code != 0 || !strings.Contains(errs.String(), "starting another") || !strings.Contains(out.String(), "every correct workload clean") {
		t.Fatalf("exit %d, want 0 after a new worker took the row:\n%s%s", code, out.String(), errs.String())
	}
}

// TestSimShareOfTheBudget: a row gets its share of what the workers have
// left, and never more than the time left.
func TestSimShareOfTheBudget(t *testing.T) {
	start := time.Unix(1000, 0)
	rows := []simRow{{share: 1}, {share: 3}, {share: 1}}
	b := &board{f: simFlags{budget: time.Minute, rows: rows}, start: start, end: start.Add(time.Minute), workers: 2, remaining: 5}
	if got := b.share(0, start); got != 24*time.Second {
		t.Errorf("first row of share 1 in 5 on 2 workers for a minute: %v, want 24s", got)
	}
	b.remaining = 1
	if got := b.share(2, start.Add(45*time.Second)); got != 15*time.Second {
		t.Errorf("the last row with 15s left on 2 workers: %v, want the 15s left, no more", got)
	}
	b.inFlight = map[int]time.Time{1: start.Add(50 * time.Second)}
	if got := b.share(2, start.Add(30*time.Second)); got != 30*time.Second {
		t.Errorf("the last row beside one due in 20s, 30s left on 2 workers: %v, want 40s capped at 30s", got)
	}
}
