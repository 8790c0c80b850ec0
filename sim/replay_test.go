package sim_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/demo"
)

// TestReplayAccountsForTheImage: a replay says in words what the crash
// image kept, beside the trace, and the same each time.
func TestReplayAccountsForTheImage(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.schedule"))
	if len(files) == 0 {
		t.Fatal("no committed schedules")
	}
	_, first, err := sim.ReplayFile(files[0], demo.Workloads())
	if err != nil {
		t.Fatal(err)
	}
	_, again, err := sim.ReplayFile(files[0], demo.Workloads())
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Image) == 0 || !slices.Equal(first.Image, again.Image) || first.SHA256 != again.SHA256 {
		t.Fatalf("accounts %q then %q, hashes %s then %s: want the same, not empty", first.Image, again.Image, first.SHA256, again.SHA256)
	}
	if !strings.HasPrefix(first.Image[0], "size ") {
		t.Fatalf("the account %q does not say which size the crash kept", first.Image)
	}
}
