package properties_test

import (
	"testing"

	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

func TestProperties(t *testing.T) {
	checks := 30
	if testing.Short() {
		checks = 5
	}
	for _, w := range properties.Workloads() {
		for _, p := range diskmodel.Profiles() {
			for _, st := range sim.Strategies() {
				t.Run(w.Name+"/"+p.Name+"/"+st.String(), func(t *testing.T) {
					rep := sim.Test(t, sim.Config{Workload: w, Profile: p, Strategy: st, Checks: checks})
					if rep.States < int64(checks) {
						t.Fatalf("only %d crash states in %d runs", rep.States, rep.Runs)
					}
				})
			}
		}
	}
}
