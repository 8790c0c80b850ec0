package properties_test

import (
	"path/filepath"
	"testing"

	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
)

// TestRegressions reruns every committed schedule of a bug the properties
// found, now fixed: the recorded run, crashed at every point with every
// exhaustive strategy, passes.
func TestRegressions(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "regressions", "*.schedule"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no regression schedules")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel() // Regress replays without rapid: schedules run side by side
			s, err := sim.ReadSchedule(f)
			if err != nil {
				t.Fatal(err)
			}
			var w *sim.Workload
			for _, c := range properties.Workloads() {
				if c.Name == s.Workload {
					w = &c
				}
			}
			if w == nil {
				t.Fatalf("no workload %q", s.Workload)
			}
			fail, err := sim.Regress(s, *w)
			if err != nil {
				t.Fatal(err)
			}
			if fail != nil {
				t.Fatalf("fails again: %s\n%s", fail.Failure, fail.Trace)
			}
		})
	}
}
