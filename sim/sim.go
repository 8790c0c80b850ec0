// Package sim is the crash runner: it runs a workload over the simulated
// disk of package diskmodel, crashes the machine at chosen yield points
// with chosen durable images, reboots onto each image and asks the
// workload to check what it finds.
//
// A workload is a Program that writes through an mmapfile.Storage and
// keeps, beside the storage, what it has been told is durable. Its Check
// receives the storage a reboot finds and reports any violation of its
// invariants; NewWorkload builds one from two functions, the way a
// program that embeds persy-go states its own workload and invariant.
// Explore drives the exploration through rapid, and Test does inside go
// test, so a failure shrinks to a small workload and a simple crash
// state, and every failure becomes a Schedule that Replay reproduces
// exactly, with the same trace hash.
//
// Everything a run decides comes from a Chooser: the workload's own
// choices, the faults of the profile, the crash point and the crash
// image. Nothing reads the clock or an unseeded source, nothing runs in a
// goroutine of its own, so a schedule replays byte for byte.
package sim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/sim/diskmodel"
)

// A Program is one run of a workload.
type Program interface {
	// Run drives s to the end of the workload, taking its decisions from
	// ch. When a call on s fails with an injected fault (the machine
	// crashed, a barrier failed, the disk is full), Run stops as the
	// workload would and returns nil; an error means the workload itself
	// went wrong, and the runner reports it as a failure.
	Run(s mmapfile.Storage, ch diskmodel.Chooser) error
	// Check is called at crash points while Run is paused, with what a
	// reboot after the crash finds. It reopens whatever Run built and
	// returns an error if the recovered state breaks an invariant given
	// what Run had been told was durable when the crash happened. It may
	// write to the rebooted storage (recovery does); it must not change
	// the Program.
	Check(r Reboot) error
}

// A Reboot is what a machine finds after a crash.
type Reboot struct {
	// Storage is a fresh simulated disk holding the crash image, nil if
	// the crash left no file. It is valid until Check returns: the
	// runner boots the next crash state in the same memory.
	Storage mmapfile.Storage
	// Damaged reports a media fault in the image (a flipped bit, a
	// misdirected page write): durability is not promised for it, only
	// that the damage is detected, never read as data.
	Damaged bool
}

// A Workload names a Program the runner can explore and replay.
type Workload struct {
	// Name identifies the workload in schedules and reports; it is one
	// word with no spaces.
	Name string
	// Description says in one line what it does and what it checks.
	Description string
	// Broken marks a workload written to fail, such as one with a barrier
	// deliberately missing: the runner's own test. For it a failure found
	// is the expected outcome.
	Broken bool
	// Every, for a workload whose runs are long, makes the Yields
	// strategy crash at every Every-th yield only, at an offset drawn
	// for each run, so that runs together still reach every yield; zero
	// means every yield. Config.Every, when set, overrides it.
	Every int
	// Share is the workload's share of a time budget (persy sim -time)
	// beside the other workloads', for each of its rows; zero means 1. A
	// workload whose crash states cost more and cover more of the engine
	// gets more.
	Share int
	// RowShare, if set, gives the share of each of the workload's rows
	// by its profile and strategy, in place of Share; zero means 1. A
	// workload whose faults combine under some rows far more than under
	// the others (a tear and the rewrite of the torn page, say, meet
	// only under a sweep of single pages) gives those rows more.
	RowShare func(profile, strategy string) int
	// New starts a run.
	New func() Program
	// Note, if set, says in one line what the workload's runs reached
	// so far (for instance the deepest tree), for the end of a report.
	Note func() string
}

// ShareOf returns w's share of a time budget for its row on profile
// under strategy.
func (w Workload) ShareOf(profile, strategy string) int {
	if w.RowShare != nil {
		return max(w.RowShare(profile, strategy), 1)
	}
	return max(w.Share, 1)
}

// NewWorkload returns the workload called name built from two functions
// over a state of the caller's type S, the simplest way for a program
// that embeds a storage engine to state its own workload and invariant.
// Each run starts from a new zero S: run drives the storage as the
// program would (opening the engine on it, say with persy.OpenStorage)
// and records in *S what it was told is durable; check is the Program's
// Check over the same *S, called at every crash point while run is
// paused: it reopens r.Storage, recovers, and returns an error if what
// it finds breaks the invariant given *S. check must not change *S.
//
// Every decision of run comes from ch (ch.Choose("transfers", 6): a
// label of one word without '/' or '=', and a value in [0, 6) that
// shrinks towards 0), never from the clock, math/rand or map order, and
// the engine under it starts no goroutine (persy: Options.ManualSync and
// a negative LockTimeout), so that a run replays decision for decision.
//
// An error of run that IsInjected reports (the simulated machine
// crashed under it, a barrier failed) is the fault the runner injected,
// not a failure, as RunResult says: run returns errors as they come,
// wrapped with %w. Methods fit: NewWorkload("bank", (*bank).run,
// (*bank).check). Set the returned Workload's Description or Every as
// needed.
func NewWorkload[S any](name string, run func(st *S, s mmapfile.Storage, ch diskmodel.Chooser) error, check func(st *S, r Reboot) error) Workload {
	return Workload{
		Name: name,
		New:  func() Program { return &funcProgram[S]{run: run, check: check} },
	}
}

// funcProgram is the Program of a workload NewWorkload built.
type funcProgram[S any] struct {
	state S
	run   func(*S, mmapfile.Storage, diskmodel.Chooser) error
	check func(*S, Reboot) error
}

func (p *funcProgram[S]) Run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	return RunResult(p.run(&p.state, s, ch))
}

func (p *funcProgram[S]) Check(r Reboot) error { return p.check(&p.state, r) }

// Strategy says where a run crashes and which images it takes there.
type Strategy uint8

// The strategies.
const (
	// Barriers crashes just before and just after every barrier, and at
	// the end, with whole-image policies: an unsynced creation lost or
	// kept, the old size or the newest, every unsynced page lost or
	// persisted, and the profile's garbage and media faults.
	Barriers Strategy = iota + 1
	// Yields crashes at every yield point (every Every-th with Every set)
	// with the same policies.
	Yields
	// Sweep crashes before every barrier and at the end and takes, for
	// each page holding unsynced writes, the images where that page alone
	// is lost, alone persisted, or torn at each sector boundary with the
	// rest lost and with the rest persisted.
	Sweep
	// Random crashes once per run, at a yield drawn at random, with an
	// image whose every decision is drawn at random: random subsets of
	// the unsynced sectors at random versions.
	Random
)

// Strategies lists every strategy.
func Strategies() []Strategy { return []Strategy{Barriers, Yields, Sweep, Random} }

var strategyNames = map[Strategy]string{Barriers: "barriers", Yields: "yields", Sweep: "sweep", Random: "random"}

// String names the strategy as persy sim's -strategy flag spells it.
func (s Strategy) String() string {
	if n, ok := strategyNames[s]; ok {
		return n
	}
	return fmt.Sprintf("strategy%d", uint8(s))
}

// ParseStrategy returns the strategy called name.
func ParseStrategy(name string) (Strategy, error) {
	for _, s := range Strategies() {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("sim: no strategy %q", name)
}

// Config says what to explore.
type Config struct {
	Workload Workload
	Profile  diskmodel.Profile // the zero value is diskmodel.LinuxStrict
	Strategy Strategy          // the zero value is Barriers
	// Every, for Yields, crashes at every Every-th yield only; zero means
	// the workload's own Workload.Every, and 1 if that is zero too.
	Every int
	// Checks is the number of runs rapid makes; zero leaves rapid's own
	// setting (-rapid.checks, RAPID_CHECKS).
	Checks int
	// Seed is rapid's seed; zero leaves rapid's own (-rapid.seed,
	// RAPID_SEED, or a random one).
	Seed uint64
}

func (c Config) withDefaults() Config {
	if c.Profile.AtomicBytes == 0 {
		c.Profile = diskmodel.LinuxStrict
	}
	if c.Strategy == 0 {
		c.Strategy = Barriers
	}
	if c.Every <= 0 {
		c.Every = max(c.Workload.Every, 1)
	}
	return c
}

// endKind marks the crash point after Run returned.
const endKind diskmodel.OpKind = 0

// execution is one run of a program over a fresh simulated disk.
type execution struct {
	cfg  Config
	prog Program
	disk *diskmodel.Disk
	ch   *gate
	ops  []diskmodel.Op // every yield reached, in order
	// crashed is set once the probe crashed the machine; the ops and
	// choices recorded up to then are the run's schedule.
	crashed bool
}

// A probe is called at every yield point and once after Run returns (op
// Kind endKind, op.Yield the number of yields). Returning true crashes
// the machine there.
type probe func(x *execution, op diskmodel.Op) bool

// execute runs cfg's workload with run deciding for it and for the disk's
// runtime faults, calling p at every yield. It returns a workload failure
// (Run's error, a panic, a store bypassing WriteAt) or nil.
func execute(cfg Config, run diskmodel.Chooser, p probe) (x *execution, err error) {
	defer func() {
		if r := recover(); r != nil {
			if cp, ok := r.(chooserPanic); ok {
				panic(cp.value) // rapid's own, for rapid
			}
			panic(r)
		}
	}()
	x = &execution{cfg: cfg, ch: &gate{inner: run}}
	x.disk = diskmodel.New(diskmodel.Options{
		Profile: cfg.Profile,
		Chooser: x.ch,
		Yield: func(_ *diskmodel.Disk, op diskmodel.Op) error {
			if x.crashed {
				return diskmodel.ErrCrashed
			}
			x.ops = append(x.ops, op)
			if p != nil && p(x, op) {
				x.crash()
				return diskmodel.ErrCrashed
			}
			return nil
		},
	})
	err = protect("the workload", func() error {
		x.prog = cfg.Workload.New()
		return x.prog.Run(x.disk, x.ch)
	})
	if err != nil && !x.crashed {
		return x, err
	}
	if x.crashed {
		return x, nil // errors after the crash are the crash's
	}
	if err := x.disk.Err(); err != nil {
		return x, err
	}
	end := diskmodel.Op{Yield: int64(len(x.ops)), Kind: endKind}
	if p != nil && p(x, end) {
		x.crash()
	}
	return x, nil
}

func (x *execution) crash() {
	x.crashed = true
	x.ch.closed = true
}

// state materializes the crash image that ch decides at the current
// yield, in buf's memory, reboots onto it and runs the check. It returns
// the check's failure and the image. A non-nil boot is the memory the
// rebooted disk's live bytes go to, kept from one state to the next:
// memory in use is warm, where new memory the runtime had given back to
// the OS copies at page-fault speed.
func (x *execution) state(ch diskmodel.Chooser, buf []byte, boot *[]byte) (*diskmodel.Image, error) {
	w := &damageWatch{inner: ch}
	var c diskmodel.Chooser = relay{w}
	if _, ok := ch.(diskmodel.Narrator); ok {
		c = narratingRelay{relay{w}} // only a listener pays for the account
	}
	img, err := x.disk.CrashImage(c, buf)
	if err != nil {
		return nil, err
	}
	r := Reboot{Damaged: w.damaged}
	if img.Exists {
		o := diskmodel.Options{Profile: x.cfg.Profile}
		if boot != nil {
			if n := len(img.Data) + 2*mmapfile.PageBytes; cap(*boot) < n {
				*boot = make([]byte, 0, 2*n)
			}
			o.Buffer = *boot
		}
		d, err := diskmodel.FromImage(img, o)
		if err != nil {
			return img, fmt.Errorf("sim: reboot onto the crash image: %w", err)
		}
		r.Storage = d
	}
	err = protect("the check", func() error { return x.prog.Check(r) })
	return img, err
}

// damageWatch notes whether an image's decisions put a media fault in it.
type damageWatch struct {
	inner   diskmodel.Chooser
	damaged bool
}

// Narrate passes the crash image's account to inner, if it listens.
func (w *damageWatch) Narrate(line string) { narratingRelay{relay{w.inner}}.Narrate(line) }

func (w *damageWatch) Choose(label string, n int) int {
	v := w.inner.Choose(label, n)
	if diskmodel.IsMediaFault(label) && v == 1 {
		w.damaged = true
	}
	return v
}

// gate passes decisions to inner until the machine crashes, then answers
// 0 without asking: whatever a program decides after the crash changes
// nothing, and a schedule records the decisions up to the crash only.
type gate struct {
	inner  diskmodel.Chooser
	closed bool
}

func (g *gate) Choose(label string, n int) int {
	if g.closed {
		return 0
	}
	return relay{g.inner}.Choose(label, n)
}

// relay passes decisions to inner and carries a panic inside it (rapid
// stops a run that way when a shrunk run asks for more than it holds)
// through protect unchanged, to execute's caller.
type relay struct{ inner diskmodel.Chooser }

// chooserPanic is a panic raised inside a Chooser.
type chooserPanic struct{ value any }

// narratingRelay is a relay that passes the crash image's account on
// to inner, if it listens.
type narratingRelay struct{ relay }

func (r narratingRelay) Narrate(line string) {
	if n, ok := r.inner.(diskmodel.Narrator); ok {
		n.Narrate(line)
	}
}

func (r relay) Choose(label string, n int) (v int) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(chooserPanic); ok {
				panic(p)
			}
			panic(chooserPanic{p})
		}
	}()
	return r.inner.Choose(label, n)
}

// PanicError is a panic inside a workload or its check, reported as a
// failure.
type PanicError struct {
	Where string
	Value any
	Stack []byte // not part of a trace: it names the machine's paths
}

// Error says where the panic was and with what value.
func (e *PanicError) Error() string { return fmt.Sprintf("sim: %s panicked: %v", e.Where, e.Value) }

// protect runs fn and turns its panic into a *PanicError, except a panic
// from a Chooser, which it lets through.
func protect(where string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(chooserPanic); ok {
				panic(r)
			}
			err = &PanicError{Where: where, Value: r, Stack: debug.Stack()}
		}
	}()
	return fn()
}

// IsInjected reports whether err is a fault the simulated disk injected
// (a crash, a failed barrier, a full disk) or its consequence (a poisoned
// or closed handle), which a Program's Run stops on without failing.
func IsInjected(err error) bool {
	return errors.Is(err, diskmodel.ErrCrashed) || diskmodel.IsFault(err) ||
		errors.Is(err, mmapfile.ErrPoisoned)
}

// RunResult is what a Program's Run returns when its work stopped with
// err: nil for no error or an injected fault, err otherwise.
func RunResult(err error) error {
	if IsInjected(err) {
		return nil
	}
	return err
}

// Test explores cfg and fails t if the workload fails, writing the
// simplest failure's schedule and trace under testdata/sim so that
// ReplayFile (or persy sim -replay) reproduces it.
func Test(t testing.TB, cfg Config) Report {
	t.Helper()
	rep := Explore(cfg)
	if rep.Minimal == nil {
		return rep
	}
	s := rep.Minimal
	path, err := s.WriteFiles(filepath.Join("testdata", "sim"))
	if err != nil {
		t.Logf("writing the schedule: %v", err)
	}
	if pe := (*PanicError)(nil); errors.As(s.Cause(), &pe) {
		t.Logf("%s", pe.Stack)
	}
	t.Fatalf("sim: %s on %s, strategy %s: %s\n%sschedule: %s (%d decisions, crash at %d)",
		s.Workload, s.Profile, s.Strategy, s.Failure, s.Trace, path, s.Length(), s.Crash)
	return rep
}

// TuneGC sets the collector's target to 400 percent unless the GOGC
// environment variable sets one. Exploring reboots a fresh copy of the
// simulated disk for every crash state, a stream of short-lived garbage
// that at the default target costs more than the engine under test:
// persy sim at 10 runs a row takes 50 s at 400 percent against 133 s
// at 100, and 50 MB against 21 MB. Call it once, from main or TestMain.
func TuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(400)
	}
}
