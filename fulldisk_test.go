package persy

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/gopersy/persy/sim/diskmodel"
)

// TestFullSimulatedDisk is TestFullDisk on the simulated disk's enospc
// profile, where every growth fails once the disk is full: runnable
// anywhere, and with a crash taken while the disk is full.
func TestFullSimulatedDisk(t *testing.T) {
	full := false
	d := diskmodel.New(diskmodel.Options{Profile: diskmodel.NoSpace, Chooser: diskmodel.Func(func(label string, n int) int {
		if label == "enospc" && full {
			return n - 1
		}
		return 0
	})})
	db, err := OpenStorage(d, Options{ManualSync: true})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	acked := map[RecordID]string{}
	var failed error
	for i := 0; failed == nil; i++ {
		full = i >= 20
		v := fmt.Sprintf("%02000d", i)
		var id RecordID
		failed = db.Update(func(tx *Tx) error {
			var err error
			id, err = tx.Insert("s", []byte(v))
			return err
		})
		if failed == nil {
			acked[id] = v
		}
		if i > 5000 {
			t.Fatal("5,000 inserts on a disk that cannot grow")
		}
	}
	if !errors.Is(failed, syscall.ENOSPC) || len(acked) < 20 {
		t.Fatalf("after %d inserts: %v, want ENOSPC once the disk is full", len(acked), failed)
	}
	mustT(t, db.Sync())
	readsAll(t, db, acked)

	// A power cut now, the disk full: everything acknowledged is there.
	img, err := d.CrashImage(diskmodel.Func(func(string, int) int { return 0 }), nil)
	mustT(t, err)
	mustT(t, db.Close())
	for _, ro := range []bool{true, false} {
		c, err := diskmodel.FromImage(img, diskmodel.Options{Profile: diskmodel.NoSpace, Chooser: diskmodel.Func(func(label string, n int) int {
			if label == "enospc" {
				return n - 1
			}
			return 0
		})})
		mustT(t, err)
		db, err := OpenStorage(c, Options{ManualSync: true, ReadOnly: ro})
		if err != nil {
			t.Fatalf("open (read-only %v) of the full disk after a crash: %v", ro, err)
		}
		readsAll(t, db, acked)
		mustT(t, db.Close())
	}
}

// readsAll checks db holds exactly want in segment s.
func readsAll(t *testing.T, db *DB, want map[RecordID]string) {
	t.Helper()
	mustT(t, db.View(func(s *Snapshot) error {
		got := scanAll(t, s.Scan("s"))
		if len(got) != len(want) {
			return fmt.Errorf("%d records read, %d acknowledged", len(got), len(want))
		}
		for id, v := range want {
			if got[id] != v {
				return fmt.Errorf("record %v reads %d bytes, not what was acknowledged", id, len(got[id]))
			}
		}
		return nil
	}))
}
