package sim_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/demo"
	"github.com/gopersy/persy/sim/diskmodel"
)

// checks is the number of runs per exploration in these tests: enough to
// cover the demo log's shapes, few enough to stay quick under -race.
func checks() int {
	if raceEnabled {
		return 5
	}
	return 20
}

// brokenFound is the missing-barrier log explored once with the barrier
// strategy, shared by the tests that need a shrunk failure.
var brokenFound = sync.OnceValue(func() sim.Report {
	return sim.Explore(sim.Config{Workload: demo.AppendLogMissingBarrier(), Strategy: sim.Barriers, Checks: 100, Seed: 1})
})

func TestCorrectLogIsClean(t *testing.T) {
	for _, p := range diskmodel.Profiles() {
		for _, st := range sim.Strategies() {
			t.Run(p.Name+"/"+st.String(), func(t *testing.T) {
				rep := sim.Test(t, sim.Config{Workload: demo.AppendLog(), Profile: p, Strategy: st, Checks: checks()})
				// rapid makes a fifth of the runs under -short.
				if rep.Runs < checks()/5 || rep.States < int64(rep.Runs) {
					t.Fatalf("explored %d states in %d runs, want at least one per run", rep.States, rep.Runs)
				}
			})
		}
	}
}

func TestMissingBarrierIsFound(t *testing.T) {
	for _, st := range []sim.Strategy{sim.Barriers, sim.Yields, sim.Sweep, sim.Random} {
		t.Run(st.String(), func(t *testing.T) {
			w := demo.AppendLogMissingBarrier()
			rep := brokenFound()
			if st != sim.Barriers {
				rep = sim.Explore(sim.Config{Workload: w, Strategy: st, Checks: 100, Seed: 1})
			}
			s := rep.Minimal
			if s == nil {
				t.Fatalf("%d runs over %d crash states found nothing", rep.Runs, rep.States)
			}
			if !strings.Contains(s.Failure, "acknowledged") || s.Crash == sim.NoCrash {
				t.Fatalf("found the wrong failure: %s", s.Failure)
			}
			// Shrunk: the fewest records that outgrow the first page
			// (three), one decision each for their count and sizes, and a
			// few for the image.
			if s.Length() > 12 {
				t.Errorf("the failure shrank only to %d decisions:\n%s", s.Length(), s.Marshal())
			}
			res, err := sim.Replay(s, w)
			if err != nil {
				t.Fatal(err)
			}
			if res.SHA256 != s.TraceSHA256 || res.Failure != s.Failure {
				t.Fatalf("replay gave %s %q, the schedule says %s %q", res.SHA256, res.Failure, s.TraceSHA256, s.Failure)
			}
			t.Logf("found in %d runs, %d states: %d decisions, crash at #%d: %s", rep.Runs, rep.States, s.Length(), s.Crash, s.Failure)
		})
	}
}

// TestCommittedSchedules replays every schedule under testdata: each must
// still reproduce its failure with the same trace hash.
func TestCommittedSchedules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.schedule"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no committed schedules under testdata")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, res, err := sim.ReplayFile(f, demo.Workloads())
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(f, ".schedule") + ".trace")
			if err != nil {
				t.Fatal(err)
			}
			if res.Trace != string(want) {
				t.Fatalf("trace differs from the committed one:\n%s", res.Trace)
			}
			t.Logf("%s: %s", s.Workload, s.Failure)
		})
	}
}

func TestReplayRejectsAlteredSchedules(t *testing.T) {
	w := demo.AppendLogMissingBarrier()
	s := brokenFound().Minimal
	if s == nil {
		t.Fatal("the broken log was not caught")
	}
	alter := func(f func(*sim.Schedule)) *sim.Schedule {
		c, err := sim.ParseSchedule(s.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		return c
	}
	// A different image decision gives a different trace.
	if len(s.Image) == 0 {
		t.Fatal("the failure needs no image decision")
	}
	flipped := alter(func(c *sim.Schedule) { c.Image[0].Value = (c.Image[0].Value + 1) % c.Image[0].N })
	res, err := sim.Replay(flipped, w)
	if err != nil {
		t.Fatal(err)
	}
	if res.SHA256 == s.TraceSHA256 {
		t.Error("a schedule with another image decision replays to the same trace")
	}
	// A schedule without its image decisions no longer fits.
	if _, err := sim.Replay(alter(func(c *sim.Schedule) { c.Image = nil }), w); err == nil {
		t.Error("a schedule without its image decisions replays")
	}
	// Decisions the workload does not ask for are an error, not ignored.
	extra := alter(func(c *sim.Schedule) { c.Run = append(c.Run, diskmodel.Choice{Label: "records", N: 13, Value: 1}) })
	if _, err := sim.Replay(extra, w); err == nil {
		t.Error("a schedule with a decision too many replays")
	}
	late := alter(func(c *sim.Schedule) { c.Crash = 1 << 40 })
	if _, err := sim.Replay(late, w); err == nil {
		t.Error("a schedule crashing after the run's end replays")
	}
	if _, err := sim.Replay(s, demo.AppendLog()); err == nil {
		t.Error("a schedule replays against another workload")
	}
}

func TestExploreIsDeterministic(t *testing.T) {
	for _, w := range demo.Workloads() {
		cfg := sim.Config{Workload: w, Strategy: sim.Random, Checks: checks(), Seed: 7}
		a, b := sim.Explore(cfg), sim.Explore(cfg)
		if a.Runs != b.Runs || a.States != b.States || a.Yields != b.Yields || a.Failures != b.Failures {
			t.Errorf("%s: two explorations with one seed differ: %+v and %+v", w.Name, a, b)
		}
		if (a.Minimal == nil) != (b.Minimal == nil) || a.Minimal != nil && a.Minimal.TraceSHA256 != b.Minimal.TraceSHA256 {
			t.Errorf("%s: two explorations with one seed found different failures", w.Name)
		}
	}
}

// program is a Program built from functions, for the runner's own tests.
type program struct {
	run   func(s mmapfile.Storage, ch diskmodel.Chooser) error
	check func(s mmapfile.Storage) error // the rebooted storage
}

func (p *program) Run(s mmapfile.Storage, ch diskmodel.Chooser) error { return p.run(s, ch) }
func (p *program) Check(r sim.Reboot) error                           { return p.check(r.Storage) }

func workload(name string, run func(s mmapfile.Storage, ch diskmodel.Chooser) error, check func(s mmapfile.Storage) error) sim.Workload {
	return sim.Workload{Name: name, New: func() sim.Program { return &program{run, check} }}
}

func writeAndSync(s mmapfile.Storage, _ diskmodel.Chooser) error {
	if err := s.Grow(mmapfile.PageBytes); err != nil {
		return err
	}
	if err := s.WriteAt([]byte("x"), 0); err != nil {
		return err
	}
	return s.Sync()
}

func TestRunnerReportsWhatGoesWrong(t *testing.T) {
	pass := func(mmapfile.Storage) error { return nil }
	cases := []struct {
		w    sim.Workload
		want string
	}{
		{workload("store-into-view", func(s mmapfile.Storage, ch diskmodel.Chooser) error {
			if err := s.Grow(mmapfile.PageBytes); err != nil {
				return err
			}
			s.Bytes(0, 1)[0] = 1 // bypasses WriteAt
			return s.Sync()
		}, pass), "without WriteAt"},
		{workload("check-panics", writeAndSync, func(s mmapfile.Storage) error {
			if s != nil && s.Size() > 0 {
				panic("check exploded")
			}
			return nil
		}), "check panicked: check exploded"},
		{workload("run-fails", func(s mmapfile.Storage, ch diskmodel.Chooser) error {
			if ch.Choose("fail", 2) == 1 {
				return errors.New("the workload's own bug")
			}
			return nil
		}, pass), "the workload's own bug"},
		{workload("flaky", func() func(mmapfile.Storage, diskmodel.Chooser) error {
			calls := 0
			return func(s mmapfile.Storage, ch diskmodel.Chooser) error {
				calls++
				for range calls % 2 {
					if err := s.Grow(mmapfile.PageBytes); err != nil {
						return err
					}
				}
				return nil
			}
		}(), func(s mmapfile.Storage) error {
			if s != nil && s.Size() > 0 {
				return fmt.Errorf("grown")
			}
			return nil
		}), "not deterministic"},
	}
	for _, c := range cases {
		t.Run(c.w.Name, func(t *testing.T) {
			for _, st := range sim.Strategies() {
				rep := sim.Explore(sim.Config{Workload: c.w, Strategy: st, Checks: 20, Seed: 3})
				if rep.Minimal == nil || !strings.Contains(rep.Minimal.Failure, c.want) {
					t.Errorf("%v: want a failure containing %q, got %+v", st, c.want, rep.Minimal)
				}
			}
		})
	}
}

func TestScheduleRoundTrip(t *testing.T) {
	s := &sim.Schedule{
		Workload: "w", Profile: "linux-strict", Strategy: "sweep", Crash: 17,
		Run:         []diskmodel.Choice{{Label: "records", N: 13, Value: 2}, {Label: "payload", N: 1501, Value: 1500}},
		Image:       []diskmodel.Choice{{Label: "created", N: 2, Value: 1}},
		Failure:     "line one\nline \"two\"",
		TraceSHA256: strings.Repeat("ab", 32),
	}
	got, err := sim.ParseSchedule(s.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), s.Marshal()) {
		t.Fatalf("round trip changed the schedule:\n%s\n%s", s.Marshal(), got.Marshal())
	}
	for _, bad := range []string{
		"",
		"persy-sim schedule 2\n",
		strings.Replace(string(s.Marshal()), "crash 17", "crash -2", 1),
		strings.Replace(string(s.Marshal()), "payload/1501=1500", "payload/1501=1501", 1),
		strings.Replace(string(s.Marshal()), "created/2=1", "created=1", 1),
		strings.Replace(string(s.Marshal()), "profile linux-strict", "profile", 1),
		strings.Replace(string(s.Marshal()), "trace-sha256 ab", "trace-sha256 zz", 1),
		string(s.Marshal()) + "extra\n",
	} {
		if _, err := sim.ParseSchedule([]byte(bad)); err == nil {
			t.Errorf("parsed a bad schedule:\n%s", bad)
		}
	}
}

func FuzzParseSchedule(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.schedule"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("persy-sim schedule 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := sim.ParseSchedule(data)
		if err != nil {
			return
		}
		again, err := sim.ParseSchedule(s.Marshal())
		if err != nil {
			t.Fatalf("a parsed schedule does not parse once marshalled: %v", err)
		}
		if !bytes.Equal(again.Marshal(), s.Marshal()) {
			t.Fatalf("marshal is not stable:\n%q\n%q", s.Marshal(), again.Marshal())
		}
	})
}

// TestOldSizeWithPagesWrittenBack: a pointer made durable with SyncRange
// to data in a grown part of the file whose size was never synced. Linux
// can write the pointer's page back and lose the size; every exhaustive
// strategy must find that state.
func TestOldSizeWithPagesWrittenBack(t *testing.T) {
	w := workload("pointer-past-size", func(s mmapfile.Storage, _ diskmodel.Chooser) error {
		if err := s.Grow(mmapfile.PageBytes); err != nil {
			return err
		}
		if err := s.Sync(); err != nil {
			return err
		}
		if err := s.Grow(2 * mmapfile.PageBytes); err != nil {
			return err
		}
		if err := s.WriteAt([]byte("data"), mmapfile.PageBytes); err != nil {
			return err
		}
		if err := s.WriteAt([]byte{1}, 0); err != nil {
			return err
		}
		return s.SyncRange(0, 2*mmapfile.PageBytes)
	}, func(s mmapfile.Storage) error {
		if s != nil && s.Size() > 0 && s.Bytes(0, 1)[0] == 1 && s.Size() < 2*mmapfile.PageBytes {
			return errors.New("the pointer survived, the data it points to did not")
		}
		return nil
	})
	for _, st := range []sim.Strategy{sim.Barriers, sim.Yields, sim.Sweep} {
		if rep := sim.Explore(sim.Config{Workload: w, Strategy: st, Checks: 5, Seed: 1}); rep.Minimal == nil {
			t.Errorf("%v: missed, %d states", st, rep.States)
		}
	}
}

func TestExploreRefusesWhatASchedulesCannotName(t *testing.T) {
	custom := diskmodel.LinuxStrict
	custom.GarbageTorn = true // named linux-strict, but is not
	for name, cfg := range map[string]sim.Config{
		"custom profile": {Workload: demo.AppendLog(), Profile: custom},
		"unnamed":        {Workload: demo.AppendLog(), Profile: diskmodel.Profile{Name: "", AtomicBytes: 512}},
		"spaced name":    {Workload: sim.Workload{Name: "two words", New: demo.AppendLog().New}},
	} {
		if rep := sim.Explore(cfg); rep.Minimal == nil || rep.Runs != 0 {
			t.Errorf("%s: explored %d runs", name, rep.Runs)
		}
	}
}

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	t.Setenv("GOGC", "150") // restored after the test, unset below
	sim.TuneGC()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, TuneGC changed the target to %d", got)
	}
	if err := os.Unsetenv("GOGC"); err != nil {
		t.Fatal(err)
	}
	sim.TuneGC()
	if got := debug.SetGCPercent(100); got != 400 {
		t.Errorf("with GOGC unset, TuneGC set the target to %d, want 400", got)
	}
}

// TestNewWorkload: every run of a workload NewWorkload built starts from
// a zero state that its check sees as the run left it; a fault the disk
// injected and the run returns is not a failure, an error of its own
// is, and so is a broken invariant.
func TestNewWorkload(t *testing.T) {
	type state struct {
		runs     int  // runs that used this state: one
		acked    int  // values made durable
		ackEarly bool // the bug: a value counts before its barrier
		ownError bool // the run ends with an error of its own
	}
	injected := 0 // faults the runs returned, over every run
	run := func(st *state, s mmapfile.Storage, ch diskmodel.Chooser) (err error) {
		defer func() {
			if sim.IsInjected(err) {
				injected++
			}
		}()
		st.runs++
		if st.runs != 1 {
			return fmt.Errorf("a run began with the state of %d others", st.runs-1)
		}
		if err := s.Grow(mmapfile.PageBytes); err != nil {
			return err
		}
		if err := s.Sync(); err != nil {
			return err
		}
		for v := range 1 + ch.Choose("count", 4) {
			if err := s.WriteAt([]byte{byte(v + 1)}, 0); err != nil {
				return err
			}
			if st.ackEarly {
				st.acked = v + 1
			}
			if err := s.SyncRange(0, mmapfile.SectorBytes); err != nil {
				return fmt.Errorf("value %d: %w", v+1, err)
			}
			st.acked = v + 1
		}
		if st.ownError {
			return errors.New("the run's own error")
		}
		return nil
	}
	check := func(st *state, r sim.Reboot) error {
		got := 0
		if r.Storage != nil && r.Storage.Size() > 0 {
			got = int(r.Storage.Bytes(0, 1)[0])
		}
		if got < st.acked {
			return fmt.Errorf("reads %d, %d was acknowledged", got, st.acked)
		}
		return nil
	}
	with := func(name string, set func(*state)) sim.Workload {
		return sim.NewWorkload(name, func(st *state, s mmapfile.Storage, ch diskmodel.Chooser) error {
			set(st)
			return run(st, s, ch)
		}, check)
	}

	w := sim.NewWorkload("counter", run, check)
	for _, p := range []diskmodel.Profile{diskmodel.LinuxStrict, diskmodel.SyncErrors} {
		injected = 0
		rep := sim.Explore(sim.Config{Workload: w, Profile: p, Checks: 50, Seed: 1})
		if rep.Minimal != nil || rep.Runs < 2 {
			t.Errorf("%s: want %d runs clean, found %+v", p.Name, rep.Runs, rep.Minimal)
		}
		if p.SyncFailures && injected == 0 {
			t.Errorf("%s: no run met a failed barrier", p.Name)
		}
	}
	own := with("counter-own-error", func(st *state) { st.ownError = true })
	if s := sim.Explore(sim.Config{Workload: own, Checks: 20, Seed: 1}).Minimal; s == nil || s.Failure != "the run's own error" || s.Crash != sim.NoCrash {
		t.Errorf("want the run's own error, found %+v", s)
	}
	early := with("counter-early", func(st *state) { st.ackEarly = true })
	if s := sim.Explore(sim.Config{Workload: early, Checks: 20, Seed: 1}).Minimal; s == nil || s.Failure != "reads 0, 1 was acknowledged" {
		t.Errorf("an acknowledgement before its barrier: want it found and shrunk, found %+v", s)
	}
}

// TestShareOf: a workload's rows take RowShare where it is set, Share
// where not, and at least 1.
func TestShareOf(t *testing.T) {
	w := sim.Workload{Share: 3}
	if got := w.ShareOf("media", "sweep"); got != 3 {
		t.Errorf("Share 3, no RowShare: %d, want 3", got)
	}
	if got := (sim.Workload{}).ShareOf("media", "sweep"); got != 1 {
		t.Errorf("no share at all: %d, want 1", got)
	}
	w.RowShare = func(profile, strategy string) int {
		if profile == "media" && strategy == "sweep" {
			return 40
		}
		return 0
	}
	if got := w.ShareOf("media", "sweep"); got != 40 {
		t.Errorf("RowShare 40 for media/sweep: %d, want 40", got)
	}
	if got := w.ShareOf("media", "barriers"); got != 1 {
		t.Errorf("RowShare 0 for media/barriers: %d, want 1, not Share", got)
	}
}
