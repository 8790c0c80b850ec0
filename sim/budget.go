package sim

import "time"

// RoundChecks is the number of runs in each round of ExploreFor when
// Config.Checks is zero.
const RoundChecks = 5

// ExploreFor explores cfg in rounds of cfg.Checks runs (RoundChecks if
// zero), each under its own seed drawn from cfg.Seed and the round's
// number, until d has passed or a round finds a failure, and reports
// the rounds together. At least one round runs. The wall clock decides
// only how many rounds run, never what a run does: every run, and every
// failure's schedule, is as deterministic as Explore's, and rerunning
// with the same seed and the same number of rounds explores the same
// runs.
//
// now is the clock (time.Now outside tests). progress, if set, is
// called after each round with the report so far.
func ExploreFor(cfg Config, d time.Duration, now func() time.Time, progress func(Report)) Report {
	if cfg.Checks <= 0 {
		cfg.Checks = RoundChecks
	}
	start := now()
	var total Report
	for round := uint64(0); ; round++ {
		c := cfg
		c.Seed = RoundSeed(cfg.Seed, round)
		rep := Explore(c)
		total = merge(total, rep)
		if progress != nil {
			progress(total)
		}
		if rep.Minimal != nil || now().Sub(start) >= d {
			return total
		}
	}
}

// RoundSeed returns the seed of round k of an exploration seeded with
// seed: round 0 keeps seed, so one round is Explore itself. Zero stays
// zero, leaving rapid to pick each round's seed.
func RoundSeed(seed, k uint64) uint64 {
	if seed == 0 || k == 0 {
		return seed
	}
	// splitmix64's finalizer: rounds' seeds far apart for near seeds.
	z := seed + k*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return max(z^z>>31, 1)
}

// merge adds round r to the report of the rounds before it.
func merge(total, r Report) Report {
	if total.Workload == "" {
		return r
	}
	total.Runs += r.Runs
	total.Yields += r.Yields
	total.States += r.States
	total.Failures += r.Failures
	total.DroppedVersions += r.DroppedVersions
	if r.Minimal != nil {
		total.Minimal = r.Minimal
	}
	total.Log = r.Log // the last round's: the failing one, or a verdict
	return total
}
