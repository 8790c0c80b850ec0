package properties_test

import (
	"testing"

	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

func TestProperties(t *testing.T) {
	// A quick setting: persy sim runs these workloads at scale. rapid
	// makes a fifth of these under -short. make test runs this package
	// without the race detector (the simulation is one goroutine, and the
	// detector slows it twentyfold while finding nothing in it): every
	// row runs, the engine's at fewer runs, since one engine-chain run
	// crosses up to four power cuts and recoveries, each checked. Under
	// the race detector, for whoever asks for it, two runs per row, and
	// the engine-chain and engine-index rows on the profile that tears
	// and the one that also loses writes only.
	checks := 10
	if raceEnabled {
		checks = 2
	}
	if testing.Short() {
		checks = max(checks, 5) // at least one run
	}
	engineChecks := map[string]int{"engine": 5, "engine-chain": 3, "engine-index": 3}
	for _, w := range properties.Workloads() {
		for _, p := range diskmodel.Profiles() {
			for _, st := range sim.Strategies() {
				t.Run(w.Name+"/"+p.Name+"/"+st.String(), func(t *testing.T) {
					n := checks
					if c, ok := engineChecks[w.Name]; ok && !raceEnabled && !testing.Short() {
						n = c
					}
					if raceEnabled && w.Name == "engine-index" {
						// The engine's checks, which the engine rows run
						// under the race detector, over two indexes:
						// one run per row, on the profile that tears and
						// the one that also loses writes, keeps make test
						// inside CI's budget. persy sim explores every
						// row at scale.
						if p.Name != "linux-strict" && p.Name != "media" {
							t.Skip("engine-index under the race detector runs on linux-strict and media only; make sim runs this row")
						}
						n = 1
					}
					if raceEnabled && w.Name == "engine-chain" {
						// A chain run crosses up to four power cuts and
						// recoveries, each checked: under the race
						// detector one run per row, on the profile that
						// tears and the one that also loses writes, keeps
						// make test inside CI's budget. persy sim explores
						// every row at scale.
						if p.Name != "linux-strict" && p.Name != "media" {
							t.Skip("engine-chain under the race detector runs on linux-strict and media only; make sim runs this row")
						}
						n = 1
					}
					rep := sim.Test(t, sim.Config{Workload: w, Profile: p, Strategy: st, Checks: n})
					if rep.States < int64(rep.Runs) || rep.Runs == 0 {
						t.Fatalf("only %d crash states in %d runs", rep.States, rep.Runs)
					}
					if w.Note != nil {
						t.Log(w.Note())
					}
				})
			}
		}
	}
}
