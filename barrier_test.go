package persy_test

import (
	"bytes"
	"testing"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/sim/diskmodel"
)

// TestCommitWithNothingToJournalIsABarrier: a synchronous commit that
// returns says every commit before it is durable, background ones
// included, even when its own changes cancel out and it journals nothing.
func TestCommitWithNothingToJournalIsABarrier(t *testing.T) {
	for _, name := range []string{"changes that cancel out", "no change"} {
		t.Run(name, func(t *testing.T) {
			disk := diskmodel.New(diskmodel.Options{})
			opts := persy.Options{ManualSync: true}
			db, err := persy.OpenStorage(disk, opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Update(func(tx *persy.Tx) error { return tx.CreateSegment("s") }); err != nil {
				t.Fatal(err)
			}
			bg, err := db.Begin(persy.TxOptions{BackgroundSync: true})
			if err != nil {
				t.Fatal(err)
			}
			id, err := bg.Insert("s", []byte("in the background"))
			if err != nil {
				t.Fatal(err)
			}
			if err := bg.Commit(); err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *persy.Tx) error {
				if name == "no change" {
					return nil
				}
				id, err := tx.Insert("s", []byte("gone before the commit"))
				if err != nil {
					return err
				}
				return tx.Delete("s", id)
			})
			if err != nil {
				t.Fatal(err)
			}

			// The power fails: only what barriers made durable stays.
			img, err := disk.CrashImage(diskmodel.Func(func(string, int) int { return 0 }), nil)
			if err != nil {
				t.Fatal(err)
			}
			rebooted, err := diskmodel.FromImage(img, diskmodel.Options{})
			if err != nil {
				t.Fatal(err)
			}
			db, err = persy.OpenStorage(rebooted, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.View(func(s *persy.Snapshot) error {
				data, err := s.Read("s", id)
				if err != nil || !bytes.Equal(data, []byte("in the background")) {
					t.Errorf("the background commit before an acknowledged commit reads %q, %v", data, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
