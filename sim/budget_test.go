package sim_test

import (
	"testing"
	"time"

	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/demo"
)

// tick returns a clock that moves a second at each reading.
func tick() func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

// TestExploreForStopsAtItsTime: rounds go on until the time has passed,
// each under its own seed, and add up.
func TestExploreForStopsAtItsTime(t *testing.T) {
	cfg := sim.Config{Workload: demo.AppendLog(), Checks: 4, Seed: 7}
	var seen []int64
	rep := sim.ExploreFor(cfg, 3*time.Second, tick(), func(r sim.Report) { seen = append(seen, r.States) })
	if rep.Minimal != nil {
		t.Fatalf("the correct log failed: %v", rep.Minimal.Failure)
	}
	if len(seen) != 3 || rep.Runs != 3*cfg.Checks {
		t.Fatalf("%d rounds of %d runs reported, want 3 of %d", len(seen), rep.Runs, cfg.Checks)
	}
	if seen[0] <= 0 || seen[1] <= seen[0] || seen[2] != rep.States {
		t.Fatalf("states after each round %v, total %d: want them to grow to the total", seen, rep.States)
	}
	one := sim.Explore(cfg)
	if first := sim.ExploreFor(cfg, 0, tick(), nil); first.States != one.States || first.Runs != one.Runs {
		t.Fatalf("one round explored %d states in %d runs, Explore %d in %d: round 0 must be Explore itself", first.States, first.Runs, one.States, one.Runs)
	}
	if sim.RoundSeed(7, 1) == 7 || sim.RoundSeed(7, 1) == sim.RoundSeed(7, 2) || sim.RoundSeed(7, 0) != 7 {
		t.Fatal("rounds do not get seeds of their own")
	}
}

// TestExploreForStopsAtAFailure: the round that finds a failure is the
// last, whatever time is left.
func TestExploreForStopsAtAFailure(t *testing.T) {
	rounds := 0
	rep := sim.ExploreFor(sim.Config{Workload: demo.AppendLogMissingBarrier(), Checks: 50, Seed: 1}, time.Hour, tick(), func(sim.Report) { rounds++ })
	if rep.Minimal == nil || rounds != 1 {
		t.Fatalf("after %d rounds the broken log's failure is %v: want it found in the first", rounds, rep.Minimal)
	}
}
