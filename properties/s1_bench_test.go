package properties_test

import (
	"testing"

	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// BenchmarkS1 is DESIGN's S1: crash states of the engine workload
// materialized, recovered and fully checked, on linux-strict at every
// barrier. It reports states/s; b.N counts rapid runs.
func BenchmarkS1(b *testing.B) {
	states := int64(0)
	for b.Loop() {
		rep := sim.Explore(sim.Config{Workload: properties.Engine(), Profile: diskmodel.LinuxStrict, Strategy: sim.Barriers, Checks: 5, Seed: 1})
		if rep.Minimal != nil {
			b.Fatalf("the engine workload failed: %v", rep.Minimal.Failure)
		}
		states += rep.States
	}
	b.ReportMetric(float64(states)/b.Elapsed().Seconds(), "states/s")
	b.ReportMetric(0, "ns/op")
}
