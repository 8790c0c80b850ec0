package diskmodel

import (
	"fmt"
	"math/rand/v2"

	"pgregory.net/rapid"
)

// A Chooser makes every nondeterministic decision of a simulation: which
// version of each sector a crash leaves, whether a sync fails, what a
// workload does. Choose returns a value in [0, n) for the decision named
// label; 0 is always the simplest outcome (nothing reached the disk,
// nothing failed), so that shrinking towards 0 simplifies a failure.
type Chooser interface {
	Choose(label string, n int) int
}

// Rapid returns a Chooser that draws from t: failures shrink.
func Rapid(t *rapid.T) Chooser { return rapidChooser{t} }

type rapidChooser struct{ t *rapid.T }

func (c rapidChooser) Choose(label string, n int) int {
	if n <= 1 {
		return 0
	}
	return rapid.IntRange(0, n-1).Draw(c.t, label)
}

// Seeded returns a Chooser drawing uniformly from a PCG stream seeded with
// seed: the same seed gives the same choices.
func Seeded(seed uint64) Chooser {
	return &seeded{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

type seeded struct{ r *rand.Rand }

func (c *seeded) Choose(_ string, n int) int {
	if n <= 1 {
		return 0
	}
	return c.r.IntN(n)
}

// Func adapts a function to a Chooser; exploration policies such as "every
// unsynced write lost" are Funcs.
type Func func(label string, n int) int

// Choose implements Chooser.
func (f Func) Choose(label string, n int) int {
	if n <= 1 {
		return 0
	}
	return min(max(f(label, n), 0), n-1)
}

// Choice is one recorded decision.
type Choice struct {
	Label string
	N     int
	Value int
}

// String formats the choice as label/n=value.
func (c Choice) String() string { return fmt.Sprintf("%s/%d=%d", c.Label, c.N, c.Value) }

// Recorder passes decisions to another Chooser and records them.
type Recorder struct {
	Inner   Chooser
	Choices []Choice
}

// Choose implements Chooser.
func (r *Recorder) Choose(label string, n int) int {
	v := r.Inner.Choose(label, n)
	r.Choices = append(r.Choices, Choice{label, n, v})
	return v
}

// Replay returns recorded decisions in order. A decision that does not
// match the record (another label or range, or none left) is answered 0
// and remembered: Err reports that the schedule no longer fits the code.
type Replay struct {
	Choices []Choice
	// Pad answers 0 to the decisions asked past the record, as a
	// schedule's gate did after its crash, without counting them
	// against the fit: for replaying a run recorded only up to its
	// crash beyond that crash.
	Pad  bool
	next int
	err  error
}

// Choose implements Chooser.
func (r *Replay) Choose(label string, n int) int {
	if r.next >= len(r.Choices) {
		if r.err == nil && !r.Pad {
			r.err = fmt.Errorf("diskmodel: replay ran out of choices at %s/%d (recorded %d)", label, n, len(r.Choices))
		}
		return 0
	}
	c := r.Choices[r.next]
	r.next++
	if c.Label != label || c.N != n || c.Value < 0 || c.Value >= max(n, 1) {
		if r.err == nil {
			r.err = fmt.Errorf("diskmodel: replay choice %d is %v, the code asks %s/%d", r.next-1, c, label, n)
		}
		return 0
	}
	return c.Value
}

// Mismatch reports the first decision asked that did not match the
// record; unlike Err, it allows recorded decisions left unused.
func (r *Replay) Mismatch() error { return r.err }

// Err reports the first mismatch between the record and the decisions
// asked, or that recorded decisions were left unused.
func (r *Replay) Err() error {
	if r.err == nil && r.next != len(r.Choices) {
		return fmt.Errorf("diskmodel: replay used %d of %d recorded choices", r.next, len(r.Choices))
	}
	return r.err
}
