package main

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/demo"
	"github.com/gopersy/persy/sim/diskmodel"
)

// workloads are the workloads the tool knows.
func workloads() []sim.Workload {
	return append(demo.Workloads(), properties.Workloads()...)
}

// defaultSimTime is persy sim's budget when -checks is not given: about
// five minutes of wall clock. Time is looked at between rounds of runs,
// so a row overruns its share by up to a round, and by the shrinking of
// a failure it found.
const defaultSimTime = 4*time.Minute + 30*time.Second

// simFlags are persy sim's settings.
type simFlags struct {
	checks     int           // runs per row; zero: a time budget
	budget     time.Duration // the wall-clock budget of the whole run
	seed       uint64
	parallel   int
	out        string
	failfast   bool
	progress   string
	rows       []simRow
	stderrTerm bool // stderr is a terminal: progress as a bar
}

func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("persy sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checks := fs.Int("checks", 0, "a budget in runs: this many runs of each row (workload, profile, strategy), the same runs for the same seed; 0 for a time budget")
	budget := fs.Duration("time", defaultSimTime, "a budget in time, shared among the rows by each row's share (sim.Workload.ShareOf) (ignored with -checks)")
	seed := fs.Uint64("seed", 0, "rapid's seed; 0 picks one and prints it")
	match := fs.String("workload", "", "run only the workloads whose name matches this regular expression")
	profiles := fs.String("profile", "", "comma-separated disk profiles, or all; default: all for correct workloads, linux-strict for broken ones")
	strategies := fs.String("strategy", "all", "comma-separated strategies, or all")
	out := fs.String("out", ".persy-sim", "directory for the schedules and traces of failures")
	replay := fs.Bool("replay", false, "replay the schedule files given as arguments")
	failfast := fs.Bool("failfast", false, "start no row after the first row that goes wrong")
	parallel := fs.Int("parallel", runtime.NumCPU(), "rows explored at once, each in a worker process of its own when more than one")
	progress := fs.String("progress", "auto", "progress on standard error: auto (a bar on a terminal, lines otherwise), bar, lines or off")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *checks < 0 || *budget <= 0 || *parallel < 1 {
		fmt.Fprintf(stderr, "persy sim: want -checks >= 0, -time > 0 and -parallel >= 1\n")
		return 2
	}
	if !slices.Contains([]string{"auto", "bar", "lines", "off"}, *progress) {
		fmt.Fprintf(stderr, "persy sim: -progress %q: want auto, bar, lines or off\n", *progress)
		return 2
	}
	if *replay {
		return replayFiles(fs.Args(), stdout, stderr)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "persy sim: unexpected arguments %q\n", fs.Args())
		return 2
	}
	re, err := regexp.Compile(*match)
	if err != nil {
		fmt.Fprintf(stderr, "persy sim: -workload: %v\n", err)
		return 2
	}
	sts, err := parseStrategies(*strategies)
	if err != nil {
		fmt.Fprintf(stderr, "persy sim: -strategy: %v\n", err)
		return 2
	}
	if *seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		*seed = binary.LittleEndian.Uint64(b[:])>>1 | 1
	}
	f := simFlags{checks: *checks, budget: *budget, seed: *seed, parallel: *parallel, out: *out, failfast: *failfast, progress: *progress}
	for _, w := range workloads() {
		if !re.MatchString(w.Name) {
			continue
		}
		ps, err := parseProfiles(*profiles, w.Broken)
		if err != nil {
			fmt.Fprintf(stderr, "persy sim: -profile: %v\n", err)
			return 2
		}
		for _, p := range ps {
			for _, st := range sts {
				f.rows = append(f.rows, simRow{Workload: w.Name, Profile: p.Name, Strategy: st.String(), broken: w.Broken, share: w.ShareOf(p.Name, st.String())})
			}
		}
	}
	if len(f.rows) == 0 {
		fmt.Fprintln(stderr, "persy sim: no workload matches")
		return 2
	}
	if fi, ok := stderr.(*os.File); ok {
		if st, err := fi.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			f.stderrTerm = true
		}
	}
	return explore(f, stdout, stderr)
}

// budgetText says what a run of f spends.
func (f simFlags) budgetText() string {
	if f.checks > 0 {
		return fmt.Sprintf("%d runs per row", f.checks)
	}
	return fmt.Sprintf("a budget of %s", f.budget)
}

// explore runs f's rows, f.parallel at a time, shows progress on stderr,
// and prints the table. It returns the exit status.
func explore(f simFlags, stdout, stderr io.Writer) int {
	start := time.Now()
	fmt.Fprintf(stdout, "persy sim: %d rows, %s, %d at a time, seed %d (rerun with -seed %d)\n", len(f.rows), f.budgetText(), f.parallel, f.seed, f.seed)
	if m := mutant.Active(); m != "" {
		fmt.Fprintf(stdout, "seeded bug %s switched on: every correct workload should fail somewhere\n", m)
	}
	b := &board{f: f, start: start, end: start.Add(f.budget), results: make([]rowResult, len(f.rows))}
	for i := range f.rows {
		b.remaining += f.rows[i].share
	}
	workers := min(f.parallel, len(f.rows))
	var runners []rowRunner
	for i := range workers {
		if workers == 1 {
			runners = append(runners, inProcess{})
			continue
		}
		r, err := startWorker()
		if err != nil {
			fmt.Fprintf(stderr, "persy sim: starting worker %d: %v; exploring in this process\n", i, err)
			runners = append(runners[:0], inProcess{})
			break
		}
		defer func() { r.close() }()
		runners = append(runners, r)
	}
	b.workers = len(runners)

	stop := b.showProgress(stderr)
	var wg sync.WaitGroup
	for w, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				t, ok := b.next()
				if !ok {
					return
				}
				res := r.run(t, func(rep sim.Report) { b.update(t.Row, rep) })
				if wk, ok := r.(*worker); ok && strings.HasPrefix(res.Err, workerErr) {
					// The worker died or broke its protocol: start
					// another and give it the row again, once.
					wk.kill()
					fmt.Fprintf(stderr, "persy sim: worker %d: %s; starting another\n", w, res.Err)
					if err := wk.restart(); err != nil {
						res.Err += "; restarting it: " + err.Error()
					} else {
						res = r.run(t, func(rep sim.Report) { b.update(t.Row, rep) })
					}
				}
				b.finish(t.Row, w, res)
			}
		}()
	}
	wg.Wait()
	stop()
	return b.print(stdout, time.Since(start))
}

// simRow is one line of the table: a workload on a profile under a
// strategy.
type simRow struct {
	Workload, Profile, Strategy string
	broken                      bool
	share                       int
}

// rowTask is what a worker explores: a row with its budget.
type rowTask struct {
	Row                         int
	Workload, Profile, Strategy string
	Checks                      int           // runs; zero: Time
	Time                        time.Duration // the row's share of the budget
	Seed                        uint64
	Out                         string
}

// rowResult is what exploring a row gave.
type rowResult struct {
	Report  sim.Report
	Elapsed time.Duration
	Path    string            // the failure's schedule file
	Err     string            // the row could not run
	Notes   map[string]string // the worker's workload notes, by workload
	started bool
	done    bool
}

// exploreRow explores t in this process, calling progress after each
// round, and writes the failure's schedule, if any, under t.Out.
func exploreRow(t rowTask, progress func(sim.Report)) rowResult {
	i := slices.IndexFunc(workloads(), func(w sim.Workload) bool { return w.Name == t.Workload })
	p, perr := diskmodel.ProfileByName(t.Profile)
	st, serr := sim.ParseStrategy(t.Strategy)
	if err := errors.Join(perr, serr); i < 0 || err != nil {
		return rowResult{Err: fmt.Sprintf("no row %s/%s/%s: %v", t.Workload, t.Profile, t.Strategy, err)}
	}
	w := workloads()[i]
	cfg := sim.Config{Workload: w, Profile: p, Strategy: st, Checks: t.Checks, Seed: t.Seed}
	start := time.Now()
	var rep sim.Report
	if t.Checks > 0 {
		rep = sim.Explore(cfg)
	} else {
		rep = sim.ExploreFor(cfg, t.Time, time.Now, progress)
	}
	res := rowResult{Report: rep, Elapsed: time.Since(start), Notes: map[string]string{}}
	if rep.Minimal != nil {
		path, err := rep.Minimal.WriteFiles(t.Out)
		if err != nil {
			res.Err = err.Error()
		}
		res.Path = path
	}
	if w.Note != nil {
		res.Notes[w.Name] = w.Note()
	}
	return res
}

// board holds a run's rows as they are explored, for the workers, the
// progress display and the table.
type board struct {
	f          simFlags
	start, end time.Time
	workers    int // the runners exploring rows
	mu         sync.Mutex
	nextRow    int
	remaining  int // shares of the rows not started
	inFlight   map[int]time.Time
	results    []rowResult
	stopped    bool                      // failfast: a row went wrong
	noteWorker map[string]map[int]string // each worker's latest note, by workload
}

// next hands out the next row, with its share of the time left, or false
// when none is left to start.
func (b *board) next() (rowTask, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nextRow >= len(b.f.rows) || b.stopped {
		return rowTask{}, false
	}
	i := b.nextRow
	b.nextRow++
	r := b.f.rows[i]
	t := rowTask{Row: i, Workload: r.Workload, Profile: r.Profile, Strategy: r.Strategy, Checks: b.f.checks, Seed: b.f.seed, Out: b.f.out}
	if t.Checks == 0 {
		now := time.Now()
		t.Time = b.share(i, now)
		if b.inFlight == nil {
			b.inFlight = map[int]time.Time{}
		}
		b.inFlight[i] = now.Add(t.Time)
	}
	b.remaining -= r.share
	b.results[i].started = true
	return t, true
}

// share returns row i's share of the time left at now: the rows not
// started share what the workers have left, less what the rows under way
// will still take, by their shares, and none gets more than the time
// left.
func (b *board) share(i int, now time.Time) time.Duration {
	left := max(b.end.Sub(now), 0)
	work := time.Duration(max(b.workers, 1)) * left
	for _, end := range b.inFlight {
		work -= max(end.Sub(now), 0)
	}
	t := work * time.Duration(b.f.rows[i].share) / time.Duration(max(b.remaining, 1))
	return max(min(t, left), 100*time.Millisecond)
}

// update records a row's report so far.
func (b *board) update(row int, rep sim.Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results[row].Report = rep
}

// finish records a row's result, from worker w.
func (b *board) finish(row, w int, res rowResult) {
	b.mu.Lock()
	defer b.mu.Unlock()
	res.started, res.done = true, true
	b.results[row] = res
	delete(b.inFlight, row)
	if b.f.failfast && b.wrong(row) {
		b.stopped = true
	}
	if b.noteWorker == nil {
		b.noteWorker = map[string]map[int]string{}
	}
	for name, n := range res.Notes {
		if b.noteWorker[name] == nil {
			b.noteWorker[name] = map[int]string{}
		}
		b.noteWorker[name][w] = n
	}
}

// wrong reports whether row went wrong: a correct workload failed, or a
// broken one's row ended uncaught.
func (b *board) wrong(row int) bool {
	r := b.results[row]
	if r.Err != "" {
		return true
	}
	return (r.Report.Minimal != nil) != b.f.rows[row].broken
}

// showProgress shows the run's progress on w until the returned stop is
// called: a bar redrawn each second on a terminal, a line every 15
// seconds otherwise.
func (b *board) showProgress(w io.Writer) (stop func()) {
	mode := b.f.progress
	if mode == "auto" {
		mode = "lines"
		if b.f.stderrTerm {
			mode = "bar"
		}
	}
	if mode == "off" {
		return func() {}
	}
	every := 15 * time.Second
	if mode == "bar" {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if mode == "bar" {
					fmt.Fprintf(w, "\r%s\r", strings.Repeat(" ", 110))
				}
				return
			case <-tick.C:
				line := b.progressLine(time.Now(), mode == "bar")
				if mode == "bar" {
					fmt.Fprintf(w, "\r%-110s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// progressLine says where the run stands at now: the rows under way, the
// states so far, their rate and the time left, with a bar if bar is set.
func (b *board) progressLine(now time.Time, bar bool) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var states int64
	done, failed := 0, 0
	var current []string
	for i, r := range b.results {
		states += r.Report.States
		switch {
		case r.done:
			done++
			if b.wrong(i) {
				failed++
			}
		case r.started:
			row := b.f.rows[i]
			current = append(current, row.Workload+"/"+row.Profile+"/"+row.Strategy)
		}
	}
	elapsed := now.Sub(b.start)
	var frac float64
	var left time.Duration
	if b.f.checks == 0 {
		frac = min(float64(elapsed)/float64(b.f.budget), 1)
		left = max(b.end.Sub(now), 0)
	} else {
		frac = float64(done) / float64(len(b.results))
		if done > 0 {
			left = time.Duration(float64(elapsed) * float64(len(b.results)-done) / float64(done))
		}
	}
	rate := float64(states) / max(elapsed.Seconds(), 1e-9)
	s := fmt.Sprintf("%d/%d rows, %d crash states, %.0f/s, %s left", done, len(b.results), states, rate, left.Round(time.Second))
	if failed > 0 {
		s += fmt.Sprintf(", %d WRONG", failed)
	}
	if len(current) > 0 {
		s += ": " + strings.Join(current, ", ")
	}
	if bar {
		const width = 24
		n := int(frac * width)
		s = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] " + s
		if len(s) > 110 {
			s = s[:107] + "..."
		}
	} else {
		s = fmt.Sprintf("persy sim: %s (%.0f%%)", s, 100*frac)
	}
	return s
}

// print prints the table and what went wrong, and returns the exit
// status: 1 if a row went wrong.
func (b *board) print(stdout io.Writer, took time.Duration) int {
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tprofile\tstrategy\truns\tyields\tcrash states\tstates/s\tfailures\tverdict\t")
	var runs, states, bad, dropped int64
	var busy time.Duration
	var problems []string
	for i, r := range b.results {
		row := b.f.rows[i]
		if !r.done {
			continue // failfast stopped the run first
		}
		verdict := "clean"
		switch {
		case r.Err != "":
			verdict, bad = "ERROR", bad+1
			problems = append(problems, fmt.Sprintf("%s on %s (%s): %s", row.Workload, row.Profile, row.Strategy, r.Err))
		case row.broken && r.Report.Minimal != nil:
			verdict = "caught"
		case row.broken:
			verdict, bad = "MISSED", bad+1
		case r.Report.Minimal != nil:
			verdict, bad = "FAILED", bad+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.0f\t%d\t%s\t\n", row.Workload, row.Profile, row.Strategy,
			r.Report.Runs, r.Report.Yields, r.Report.States, float64(r.Report.States)/max(r.Elapsed.Seconds(), 1e-9), r.Report.Failures, verdict)
		dropped += r.Report.DroppedVersions
		runs += int64(r.Report.Runs)
		states += r.Report.States
		busy += r.Elapsed
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t\t%d\t%.0f\t\t\t\n", runs, states, float64(states)/max(took.Seconds(), 1e-9))
	_ = tw.Flush()
	fmt.Fprintf(stdout, "\n%d crash states in %s on %d workers (%.0f states/s per worker busy)\n", states, took.Round(time.Second), max(b.workers, 1), float64(states)/max(busy.Seconds(), 1e-9))
	b.printByWorkload(stdout)

	var names []string
	for name := range b.noteWorker {
		if slices.ContainsFunc(b.f.rows, func(r simRow) bool { return r.Workload == name }) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		var ws []int
		for w := range b.noteWorker[name] {
			ws = append(ws, w)
		}
		slices.Sort(ws)
		for _, w := range ws {
			who := ""
			if len(ws) > 1 {
				who = fmt.Sprintf(" (worker %d)", w+1) // each worker's runs counted apart
			}
			fmt.Fprintf(stdout, "%s%s: %s\n", name, who, b.noteWorker[name][w])
		}
	}
	if dropped > 0 {
		fmt.Fprintf(stdout, "\n%d sector versions dropped past %d per sector between barriers: crash states not explored\n", dropped, diskmodel.MaxVersionsPerUnit)
	}
	var found []string
	for _, r := range b.results {
		if s := r.Report.Minimal; s != nil && r.done {
			found = append(found, fmt.Sprintf("%s on %s (%s): shrunk to %d decisions, crash at #%d, after %s: %s\n    %s",
				s.Workload, s.Profile, s.Strategy, s.Length(), s.Crash, r.Elapsed.Round(time.Second/10), s.Failure, r.Path))
		}
	}
	if len(found) > 0 {
		fmt.Fprintf(stdout, "\nfailures found (replay with: go run ./cmd/persy replay FILE):\n")
		for _, f := range found {
			fmt.Fprintf(stdout, "  %s\n", f)
		}
	}
	for _, p := range problems {
		fmt.Fprintf(stdout, "\nerror: %s\n", p)
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "\n%d rows went wrong: a correct workload failed or a broken one was missed (after %s)\n", bad, took.Round(time.Second))
		return 1
	}
	verdict := "every correct workload clean"
	if slices.ContainsFunc(b.f.rows, func(r simRow) bool { return r.broken }) {
		verdict += ", every broken one caught"
	}
	fmt.Fprintf(stdout, "\n%s\n", verdict)
	return 0
}

// printByWorkload prints the rows' sums by workload: where the budget
// went and how fast each workload's crash states are checked.
func (b *board) printByWorkload(stdout io.Writer) {
	type sum struct {
		rows, runs int
		states     int64
		busy       time.Duration
	}
	var order []string
	sums := map[string]*sum{}
	for i, r := range b.results {
		if !r.done {
			continue
		}
		name := b.f.rows[i].Workload
		if sums[name] == nil {
			sums[name] = &sum{}
			order = append(order, name)
		}
		s := sums[name]
		s.rows++
		s.runs += r.Report.Runs
		s.states += r.Report.States
		s.busy += r.Elapsed
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "by workload\trows\truns\tcrash states\tworker time\tstates/s\t")
	for _, name := range order {
		s := sums[name]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%.0f\t\n", name, s.rows, s.runs, s.states, s.busy.Round(time.Second), float64(s.states)/max(s.busy.Seconds(), 1e-9))
	}
	_ = tw.Flush()
}

func replayFiles(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "persy sim -replay: no schedule files given")
		return 2
	}
	status := 0
	for _, f := range files {
		s, res, err := sim.ReplayFile(f, workloads())
		if res.Trace != "" {
			fmt.Fprintf(stdout, "== %s\n%s", f, res.Trace)
		}
		if len(res.Image) > 0 {
			fmt.Fprintf(stdout, "what the crash left, in words:\n  %s\n", strings.Join(res.Image, "\n  "))
		}
		if err != nil {
			fmt.Fprintf(stderr, "persy sim: %v\n", err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "reproduced %s: trace sha256 %s\n", s.Workload, res.SHA256)
	}
	return status
}

func parseStrategies(list string) ([]sim.Strategy, error) {
	if list == "all" {
		return sim.Strategies(), nil
	}
	var out []sim.Strategy
	for _, name := range strings.Split(list, ",") {
		s, err := sim.ParseStrategy(name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func parseProfiles(list string, broken bool) ([]diskmodel.Profile, error) {
	switch {
	case list == "" && broken:
		return []diskmodel.Profile{diskmodel.LinuxStrict}, nil
	case list == "" || list == "all":
		return diskmodel.Profiles(), nil
	}
	var out []diskmodel.Profile
	for _, name := range strings.Split(list, ",") {
		p, err := diskmodel.ProfileByName(name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no profile")
	}
	return out, nil
}
