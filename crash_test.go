package persy_test

import (
	"bytes"
	"testing"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/sim/diskmodel"
)

// lostUnsynced is the crash image in which nothing reached the disk past
// its last barrier.
var lostUnsynced = diskmodel.Func(func(string, int) int { return 0 })

// crashDuring runs fn on a database on a simulated disk, crashing the
// machine at fn's yield point crashAt, and returns the image a crash
// losing every unsynced write leaves, and whether fn got that far.
func crashDuring(t *testing.T, setup, fn func(db *persy.DB) error, crashAt int) (*diskmodel.Disk, bool) {
	t.Helper()
	armed, n := false, 0
	disk := diskmodel.New(diskmodel.Options{Yield: func(*diskmodel.Disk, diskmodel.Op) error {
		if armed {
			if n == crashAt {
				return diskmodel.ErrCrashed
			}
			n++
		}
		return nil
	}})
	db, err := persy.OpenStorage(disk, persy.Options{ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(db); err != nil {
		t.Fatal(err)
	}
	armed = true
	_ = fn(db)
	if !disk.Crashed() {
		return nil, false
	}
	img, err := disk.CrashImage(lostUnsynced, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := diskmodel.FromImage(img, diskmodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d, true
}

// TestOnePhaseCommitIsNeverInDoubt: a tx.Commit() cut short by a crash is
// committed or never happened; recovery never offers it as prepared. The
// record sizes move the commit's last entries across a journal page
// boundary, and the crash comes at every yield of the commit.
func TestOnePhaseCommitIsNeverInDoubt(t *testing.T) {
	setup := func(db *persy.DB) error {
		return db.Update(func(tx *persy.Tx) error { return tx.CreateSegment("s") })
	}
	crashes := 0
	for size := 3950; size <= 4060; size++ {
		commit := func(db *persy.DB) error {
			tx, err := db.Begin(persy.TxOptions{ID: []byte("one-phase")})
			if err != nil {
				return err
			}
			if _, err := tx.Insert("s", bytes.Repeat([]byte{'x'}, size)); err != nil {
				return err
			}
			return tx.Commit()
		}
		for at := 0; ; at++ {
			d, crashed := crashDuring(t, setup, commit, at)
			if !crashed {
				break
			}
			crashes++
			rec, err := persy.Recover(d, persy.Options{ManualSync: true})
			if err != nil {
				t.Fatalf("record of %d bytes, crash at yield %d of the commit: recover: %v", size, at, err)
			}
			for _, tx := range rec.Transactions() {
				if tx.Status == persy.StatusPrepared {
					t.Fatalf("record of %d bytes, crash at yield %d of the commit: the one-phase commit %q is offered as prepared", size, at, tx.ID)
				}
			}
			db, err := rec.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Check(); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
	}
	if crashes == 0 {
		t.Fatal("no crash inside a commit: the test did not run")
	}
}
