package sim_test

import (
	"fmt"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// counter is one run's state: the last value the run was told is
// durable.
type counter struct{ acked byte }

// A workload from two functions: a counter stored in the file's first
// byte, each value made durable by a barrier before it counts as
// acknowledged, and the invariant that a reboot never reads less than
// the last value acknowledged. The root package's Example_crashTesting
// does the same for a bank over persy-go.
func ExampleNewWorkload() {
	w := sim.NewWorkload("counter", func(c *counter, s mmapfile.Storage, ch diskmodel.Chooser) error {
		if err := s.Grow(mmapfile.PageBytes); err != nil {
			return err
		}
		if err := s.Sync(); err != nil { // the file and its size are durable
			return err
		}
		for v := range byte(1 + ch.Choose("count", 5)) {
			if err := s.WriteAt([]byte{v + 1}, 0); err != nil {
				return err
			}
			if err := s.SyncRange(0, mmapfile.SectorBytes); err != nil {
				return err
			}
			c.acked = v + 1
		}
		return s.Close()
	}, func(c *counter, r sim.Reboot) error {
		var got byte
		if r.Storage != nil && r.Storage.Size() > 0 {
			got = r.Storage.Bytes(0, 1)[0]
		}
		if got < c.acked {
			return fmt.Errorf("counter: reads %d, %d was acknowledged", got, c.acked)
		}
		return nil
	})
	rep := sim.Explore(sim.Config{Workload: w, Strategy: sim.Sweep, Checks: 20, Seed: 1})
	fmt.Println("failure:", rep.Minimal)
	fmt.Println("crash states checked:", rep.States > 0)
	// Output:
	// failure: <nil>
	// crash states checked: true
}
