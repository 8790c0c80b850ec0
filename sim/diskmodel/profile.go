package diskmodel

import (
	"fmt"

	"github.com/gopersy/persy/mmapfile"
)

// A Profile says what the simulated disk may do to the bytes it holds.
type Profile struct {
	// Name identifies the profile in schedules and reports.
	Name string
	// AtomicBytes is the unit that never tears: mmapfile.SectorBytes, or
	// mmapfile.PageBytes for a device that writes whole pages atomically.
	AtomicBytes int
	// GarbageTorn lets a unit caught mid-write hold garbage rather than one
	// of its versions (no powersafe overwrite).
	GarbageTorn bool
	// GarbageOnExtend lets the bytes of a durable extension that were never
	// written back read as garbage rather than zeros.
	GarbageOnExtend bool
	// SyncFailures lets a barrier fail with EIO, leaving its pages in an
	// unknown state and the handle poisoned.
	SyncFailures bool
	// NoSpace lets Grow fail with ENOSPC.
	NoSpace bool
	// Media adds faults a crash does not cause but the engine must detect:
	// a flipped bit, a page written to the wrong place, a page write the
	// device acknowledged and lost (the page keeps an older version).
	Media bool
}

// The profiles of DESIGN.md section 5.
var (
	LinuxStrict = Profile{Name: "linux-strict", AtomicBytes: mmapfile.SectorBytes}
	Atomic4K    = Profile{Name: "atomic-4k", AtomicBytes: mmapfile.PageBytes}
	Paranoid    = Profile{Name: "paranoid", AtomicBytes: mmapfile.SectorBytes, GarbageTorn: true, GarbageOnExtend: true}
	SyncErrors  = Profile{Name: "sync-errors", AtomicBytes: mmapfile.SectorBytes, SyncFailures: true}
	NoSpace     = Profile{Name: "enospc", AtomicBytes: mmapfile.SectorBytes, NoSpace: true}
	Media       = Profile{Name: "media", AtomicBytes: mmapfile.SectorBytes, Media: true}
)

// Profiles lists every profile, the default first.
func Profiles() []Profile {
	return []Profile{LinuxStrict, Atomic4K, Paranoid, SyncErrors, NoSpace, Media}
}

// ProfileByName returns the profile called name.
func ProfileByName(name string) (Profile, error) {
	for _, p := range Profiles() {
		if p.Name == name {
			return p, nil
		}
	}
	return Profile{}, fmt.Errorf("diskmodel: no profile %q", name)
}
