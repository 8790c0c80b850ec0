package persy_test

import (
	"path/filepath"
	"testing"

	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// TestBankSurvivesCrashes runs the bank workload of example_sim_test.go
// as the README's application test does, on the default profile and on
// the one that damages the media, where its check must tell detected
// damage from a broken invariant.
func TestBankSurvivesCrashes(t *testing.T) {
	for _, p := range []diskmodel.Profile{diskmodel.LinuxStrict, diskmodel.Media} {
		t.Run(p.Name, func(t *testing.T) {
			rep := sim.Test(t, sim.Config{Workload: bankWorkload(), Profile: p, Checks: 5, Seed: 1})
			if rep.States < int64(rep.Runs) || rep.Runs == 0 {
				t.Fatalf("only %d crash states in %d runs", rep.States, rep.Runs)
			}
		})
	}
}

// TestBankRegressions reruns every schedule committed under
// testdata/regressions, each a failure the crash simulator found in the
// bank workload of example_sim_test.go while it had a bug (a transfer's
// debit and credit committed apart). The bank as it is passes the
// recorded run crashed at every point, and the bug put back under the
// same name fails it again: the schedule still reaches the bug.
func TestBankRegressions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "regressions", "*.schedule"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no regression schedules")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			s, err := sim.ReadSchedule(f)
			if err != nil {
				t.Fatal(err)
			}
			fail, err := sim.Regress(s, bankWorkload())
			if err != nil {
				t.Fatal(err)
			}
			if fail != nil {
				t.Fatalf("fails again: %s\n%s", fail.Failure, fail.Trace)
			}
			buggy := bankSplit()
			buggy.Name = s.Workload
			fail, err = sim.Regress(s, buggy)
			if err != nil {
				t.Fatal(err)
			}
			if fail == nil {
				t.Fatal("with the bug put back the schedule's run passes: it no longer reaches the bug")
			}
			t.Logf("the bug put back: %s", fail.Failure)
		})
	}
}
