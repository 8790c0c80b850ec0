package properties_test

import (
	"testing"

	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

func TestProperties(t *testing.T) {
	// A quick setting: persy sim runs these workloads at scale. rapid
	// makes a fifth of these under -short. Under the race detector two
	// runs per row keep this package under eight minutes of make test on
	// two cores; the sweep rows alone explore thousands of crash states.
	checks := 10
	if raceEnabled {
		checks = 2
	}
	if testing.Short() {
		checks = max(checks, 5) // at least one run
	}
	for _, w := range properties.Workloads() {
		for _, p := range diskmodel.Profiles() {
			for _, st := range sim.Strategies() {
				t.Run(w.Name+"/"+p.Name+"/"+st.String(), func(t *testing.T) {
					rep := sim.Test(t, sim.Config{Workload: w, Profile: p, Strategy: st, Checks: checks})
					if rep.States < int64(rep.Runs) || rep.Runs == 0 {
						t.Fatalf("only %d crash states in %d runs", rep.States, rep.Runs)
					}
				})
			}
		}
	}
}
