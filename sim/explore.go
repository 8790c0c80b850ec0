package sim

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopersy/persy/sim/diskmodel"
	"pgregory.net/rapid"
)

// Report says what an exploration did and found.
type Report struct {
	Workload string
	Profile  string
	Strategy Strategy
	// Runs is the number of runs of the workload rapid made, shrinking
	// included; Yields the yield points they reached.
	Runs   int
	Yields int64
	// States is the number of distinct crash states checked: crash
	// images rebooted onto and checked.
	States int64
	// Failures is the number of runs that failed, shrinking included.
	Failures int
	// DroppedVersions counts sector versions the disk forgot because a
	// sector was written more than diskmodel.MaxVersionsPerUnit times
	// between barriers: crash states not explored.
	DroppedVersions int64
	// Minimal is the simplest failure found, nil if none was.
	Minimal *Schedule
	// Log holds rapid's messages: its verdict and, on failure, the
	// shrunk run's draws.
	Log []string
}

// Explore explores cfg under rapid and reports what it found. A failure
// is not an error: it is in Report.Minimal, shrunk and with its trace.
// Explore writes no files (rapid's own fail files are off while it runs)
// and must not run in parallel with other rapid checks in the process.
func Explore(cfg Config) Report {
	cfg = cfg.withDefaults()
	e := &explorer{cfg: cfg, rep: Report{Workload: cfg.Workload.Name, Profile: cfg.Profile.Name, Strategy: cfg.Strategy}}
	if p, err := diskmodel.ProfileByName(cfg.Profile.Name); err != nil || p != cfg.Profile {
		e.rep.Minimal = e.schedule(NoCrash, nil, nil, fmt.Errorf("sim: profile %q is not one of diskmodel.Profiles(): a schedule could not name it", cfg.Profile.Name))
		return e.rep
	}
	if !isWord(cfg.Workload.Name) {
		e.rep.Minimal = e.schedule(NoCrash, nil, nil, fmt.Errorf("sim: workload name %q is not one word", cfg.Workload.Name))
		e.rep.Minimal.Workload = "-" // a schedule cannot name it
		return e.rep
	}
	e.policies = policies(cfg.Profile)
	// rapid asks testing whether the run is -short, which needs testing's
	// flags registered and parsed even outside go test, also in a
	// program that parsed its own flags first.
	testing.Init()
	if !flag.Parsed() {
		_ = flag.CommandLine.Parse(nil)
	}
	restore := setRapidFlags(cfg)
	defer restore()
	tb := &captureTB{name: "sim/" + cfg.Workload.Name + "/" + cfg.Profile.Name + "/" + cfg.Strategy.String()}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (stopCheck{}) {
				panic(r)
			}
		}()
		rapid.Check(tb, e.prop)
	}()
	e.rep.Log = tb.log
	if tb.failed && e.rep.Minimal == nil {
		// rapid failed without a failing run of ours: its own complaint
		// (too few valid runs, a flaky run) is the failure.
		e.rep.Minimal = e.schedule(NoCrash, nil, nil, errors.New("rapid: "+strings.Join(tb.log, "\n")))
		e.rep.Minimal.TraceSHA256 = NoTrace
	}
	return e.rep
}

type explorer struct {
	cfg      Config
	rep      Report
	buf      []byte
	boot     []byte              // the rebooted disks' live bytes, reused (execution.state)
	policies []diskmodel.Chooser // the whole-image policies of cfg's profile
}

func (e *explorer) prop(t *rapid.T) {
	e.rep.Runs++
	var s *Schedule
	if e.cfg.Strategy == Random {
		s = e.random(t)
	} else {
		s = e.exhaustive(t)
	}
	if s == nil {
		return
	}
	e.rep.Failures++
	e.finish(s)
	if e.rep.Minimal == nil || s.simpler(e.rep.Minimal) {
		e.rep.Minimal = s
	}
	t.Fatalf("%s", s.Failure)
}

// exhaustive runs the workload once and, at every crash point of the
// strategy, checks every image of its policies, stopping at the first
// failure.
func (e *explorer) exhaustive(t *rapid.T) *Schedule {
	offset := 0
	if e.cfg.Strategy == Yields && e.cfg.Every > 1 {
		offset = rapid.IntRange(0, e.cfg.Every-1).Draw(t, "yieldOffset")
	}
	return e.exhaustiveWith(diskmodel.Rapid(t), offset)
}

// exhaustiveWith is exhaustive with the run's decisions taken from ch,
// the Yields strategy crashing at the yields offset past a multiple of
// Every.
func (e *explorer) exhaustiveWith(ch diskmodel.Chooser, offset int) *Schedule {
	run := &diskmodel.Recorder{Inner: ch}
	var fail *Schedule
	afterBarrier := false
	x, err := execute(e.cfg, run, func(x *execution, op diskmodel.Op) bool {
		var take bool
		switch e.cfg.Strategy {
		case Barriers:
			take = op.Kind.IsBarrier() || afterBarrier || op.Kind == endKind
		case Yields:
			take = op.Yield%int64(e.cfg.Every) == int64(offset) || op.Kind == endKind
		case Sweep:
			take = op.Kind.IsBarrier() || op.Kind == endKind
		}
		afterBarrier = op.Kind.IsBarrier()
		if !take {
			return false
		}
		images := e.policies
		if e.cfg.Strategy == Sweep {
			shape, buf, err := shapeOf(x, e.buf)
			if err != nil {
				fail = e.schedule(op.Yield, run.Choices, nil, err)
				return true
			}
			e.buf = buf
			images = append(slices.Clip(images), sweeps(shape, e.cfg.Profile)...)
		}
		seen := map[string]bool{}
		for _, c := range images {
			rec := &diskmodel.Recorder{Inner: c}
			img, err := x.state(rec, e.buf, &e.boot)
			key := choicesText(rec.Choices)
			if img != nil {
				e.buf = img.Data
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			e.rep.States++
			if err != nil {
				fail = e.schedule(op.Yield, run.Choices, rec.Choices, err)
				return true
			}
		}
		return false
	})
	e.count(x)
	if err != nil && fail == nil {
		fail = e.schedule(NoCrash, run.Choices, nil, err)
	}
	return fail
}

// random runs the workload once to learn its length, draws a crash point,
// and runs it again to crash there with an image drawn at random.
func (e *explorer) random(t *rapid.T) *Schedule {
	dry := &diskmodel.Recorder{Inner: diskmodel.Rapid(t)}
	x, err := execute(e.cfg, dry, nil)
	e.count(x)
	if err != nil {
		return e.schedule(NoCrash, dry.Choices, nil, err)
	}
	crash := int64(rapid.IntRange(0, len(x.ops)).Draw(t, "crash"))
	run := &diskmodel.Recorder{Inner: &diskmodel.Replay{Choices: dry.Choices}}
	var fail *Schedule
	x, err = execute(e.cfg, run, func(x *execution, op diskmodel.Op) bool {
		if op.Yield != crash {
			return false
		}
		rec := &diskmodel.Recorder{Inner: diskmodel.Rapid(t)}
		img, err := x.state(rec, e.buf, &e.boot)
		if img != nil {
			e.buf = img.Data
		}
		e.rep.States++
		if err != nil {
			fail = e.schedule(op.Yield, run.Choices, rec.Choices, err)
		}
		return true
	})
	e.count(x)
	switch {
	case fail != nil:
		return fail
	case err != nil:
		return e.schedule(NoCrash, run.Choices, nil, err)
	case !slices.Equal(run.Choices, dry.Choices[:min(len(run.Choices), len(dry.Choices))]):
		return e.schedule(NoCrash, run.Choices, nil,
			fmt.Errorf("sim: the run is not deterministic: its second run decided %s, its first %s",
				choicesText(run.Choices), choicesText(dry.Choices)))
	case !x.crashed:
		return e.schedule(NoCrash, run.Choices, nil,
			fmt.Errorf("sim: the run is not deterministic: its second run ended after %d yields, its first reached yield %d", len(x.ops), crash))
	}
	return nil
}

func (e *explorer) count(x *execution) {
	e.rep.Yields += int64(len(x.ops))
	e.rep.DroppedVersions += x.disk.Counters().DroppedVersions
}

func (e *explorer) schedule(crash int64, run, image []diskmodel.Choice, err error) *Schedule {
	return &Schedule{
		Workload: e.cfg.Workload.Name,
		Profile:  e.cfg.Profile.Name,
		Strategy: e.cfg.Strategy.String(),
		Crash:    crash,
		Run:      slices.Clone(run),
		Image:    slices.Clone(image),
		Failure:  err.Error(),
		cause:    err,
	}
}

// finish replays s to give it its trace, and turns a replay that does not
// reproduce the failure into a failure of determinism.
func (e *explorer) finish(s *Schedule) {
	res, err := Replay(s, e.cfg.Workload)
	switch {
	case err != nil:
		s.Failure = fmt.Sprintf("%s; but the run is not deterministic: replaying it failed: %v", s.Failure, err)
		s.TraceSHA256 = NoTrace
		return
	case res.Failure != s.Failure:
		s.Failure = fmt.Sprintf("%s; but the run is not deterministic: its replay found %q", s.Failure, res.Failure)
	}
	s.Trace, s.TraceSHA256 = res.Trace, res.SHA256
}

// setRapidFlags turns off rapid's fail files (schedules replace them) and
// applies cfg's checks and seed, returning the function that restores
// them.
func setRapidFlags(cfg Config) (restore func()) {
	set := [][2]string{{"rapid.nofailfile", "true"}}
	if cfg.Checks > 0 {
		set = append(set, [2]string{"rapid.checks", strconv.Itoa(cfg.Checks)})
	}
	if cfg.Seed != 0 {
		set = append(set, [2]string{"rapid.seed", strconv.FormatUint(cfg.Seed, 10)})
	}
	var undo []func()
	for _, kv := range set {
		f := flag.Lookup(kv[0])
		if f == nil {
			continue
		}
		old := f.Value.String()
		if err := f.Value.Set(kv[1]); err != nil {
			panic(err) // the values above are well formed
		}
		undo = append(undo, func() { _ = f.Value.Set(old) })
	}
	return func() {
		for _, u := range slices.Backward(undo) {
			u()
		}
	}
}

// captureTB is the rapid.TB Explore hands rapid: it records rapid's
// verdict instead of failing a test.
type captureTB struct {
	name   string
	failed bool
	log    []string
}

// stopCheck is the panic FailNow stops rapid with.
type stopCheck struct{}

func (c *captureTB) Helper()                 {}
func (c *captureTB) Name() string            { return c.name }
func (c *captureTB) Logf(f string, a ...any) { c.log = append(c.log, fmt.Sprintf(f, a...)) }
func (c *captureTB) Log(a ...any)            { c.log = append(c.log, fmt.Sprint(a...)) }
func (c *captureTB) Skipf(f string, a ...any) {
	c.Logf(f, a...)
	c.SkipNow()
}
func (c *captureTB) Skip(a ...any) {
	c.Log(a...)
	c.SkipNow()
}

// SkipNow fails: a skipped exploration did not pass.
func (c *captureTB) SkipNow() {
	c.failed = true
	panic(stopCheck{})
}
func (c *captureTB) Errorf(f string, a ...any) {
	c.Logf(f, a...)
	c.failed = true
}
func (c *captureTB) Error(a ...any) {
	c.Log(a...)
	c.failed = true
}
func (c *captureTB) Fatalf(f string, a ...any) {
	c.Errorf(f, a...)
	c.FailNow()
}
func (c *captureTB) Fatal(a ...any) {
	c.Error(a...)
	c.FailNow()
}
func (c *captureTB) FailNow() {
	c.failed = true
	panic(stopCheck{})
}
func (c *captureTB) Fail()        { c.failed = true }
func (c *captureTB) Failed() bool { return c.failed }

// Regress runs the workload run that schedule s recorded again, with the
// same run decisions, and crashes it with every exhaustive strategy at
// every point, on the schedule's profile. It returns the first failure
// found, nil if none. A committed schedule of a fixed bug stays a
// regression test this way even as the engine's writes change, which
// would make its recorded image decisions no longer fit.
//
// A schedule the random strategy found is first replayed as recorded,
// crash and image: its image (a misdirected write, a bit flip) is one no
// exhaustive strategy need try. Its run decisions may go on past the
// crash, for the exhaustive runs. Its image decisions name the writes
// before the crash, so this part does not outlive a change to them: then
// Regress fails and says so, rather than pass without the replay.
func Regress(s *Schedule, w Workload) (*Schedule, error) {
	if s.Workload != w.Name {
		return nil, fmt.Errorf("sim: the schedule is for workload %q, not %q", s.Workload, w.Name)
	}
	if s.Strategy == Random.String() {
		res, err := replay(s, w, false)
		if err != nil {
			return nil, fmt.Errorf("sim: the crash and image this random-strategy schedule recorded no longer fit workload %s (its writes before the crash, or the disk model, changed); cover its fault with a test that does not depend on them, or record it again on the code before its fix: %w", w.Name, err)
		}
		if res.Failure != "" {
			f := *s
			f.Failure, f.Trace, f.TraceSHA256, f.cause = res.Failure, res.Trace, res.SHA256, res.Cause
			return &f, nil
		}
	}
	profile, err := diskmodel.ProfileByName(s.Profile)
	if err != nil {
		return nil, fmt.Errorf("sim: regress: %w", err)
	}
	for _, st := range []Strategy{Barriers, Yields, Sweep} {
		e := &explorer{cfg: Config{Workload: w, Profile: profile, Strategy: st}.withDefaults(), policies: policies(profile)}
		e.cfg.Every = 1 // a regression crashes at every yield
		// The run was recorded up to its crash; past it the gate
		// answered 0, and so does the replay.
		run := &diskmodel.Replay{Choices: s.Run, Pad: true}
		if f := e.exhaustiveWith(run, 0); f != nil {
			e.finish(f)
			return f, nil
		}
		if err := run.Err(); err != nil {
			return nil, fmt.Errorf("sim: the schedule's run no longer fits workload %s: %w", w.Name, err)
		}
	}
	return nil, nil
}
