package sim_test

import (
	"os"
	"testing"

	"github.com/gopersy/persy/sim"
)

func TestMain(m *testing.M) {
	sim.TuneGC()
	os.Exit(m.Run())
}
