package txn

import (
	"fmt"
	"runtime"
	"testing"
	"weak"

	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
)

// churn updates every record of seg n times over, one update per commit.
func churn(t *testing.T, db *DB, ids []RecordID, n int) {
	t.Helper()
	for i := range n {
		for _, id := range ids {
			mustT(t, db.Update(func(tx *Tx) error {
				return tx.Update("s", id, fmt.Appendf(nil, "%0200d", i))
			}))
		}
	}
}

// TestChurnSpaceIsBounded is I10: with no snapshot open, endless updates
// keep the file's allocated part and the journal bounded; a snapshot held
// open lets them grow, and closing it lets them shrink back to that
// bound (the Persy 1.4 snapshot fix).
func TestChurnSpaceIsBounded(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	db, err := OpenStorage(m, Options{ManualSync: true, CheckpointBytes: 32 << 10})
	mustT(t, err)
	defer db.Close()
	ids := createWith(t, db, "s", 50, func(int) []byte { return make([]byte, 200) })
	footprint := func() (end int64, journalBytes uint64) {
		db.wmu.Lock()
		defer db.wmu.Unlock()
		return db.alloc.State().End, db.jw.End() - db.durable.Checkpoint
	}
	churn(t, db, ids, 20) // warm up: free lists fill
	warm, _ := footprint()
	churn(t, db, ids, 60)
	after, journal := footprint()
	if after > warm+warm/4 {
		t.Fatalf("the file grew from %d to %d bytes under churn with nothing open", warm, after)
	}
	if journal > 2*32<<10 {
		t.Fatalf("%d journal bytes since the checkpoint, checkpoints every %d", journal, 32<<10)
	}

	snap, err := db.Snapshot()
	mustT(t, err)
	churn(t, db, ids, 20)
	held, _ := footprint()
	if held <= after {
		t.Fatalf("a snapshot held 1,000 superseded records and the file did not grow (%d, %d)", held, after)
	}
	mustT(t, snap.Close())
	mustT(t, db.Checkpoint())
	churn(t, db, ids, 30)
	released, _ := footprint()
	churn(t, db, ids, 60)
	later, _ := footprint()
	if released > held+held/8 || later > released+released/8 {
		t.Fatalf("after the snapshot closed the file kept growing: %d with it held, %d, then %d", held, released, later)
	}
	db.wmu.Lock()
	retained := len(db.retained)
	db.wmu.Unlock()
	if retained != 0 {
		t.Fatalf("%d pages still retained with no snapshot open", retained)
	}
	mustT(t, db.Check())
}

// TestSmallCommitsCheckpointByPages: each synchronous commit takes a
// journal page of its own, so the checkpoint limit counts the page bytes
// commits leave unused, eight times over: thousands of 100-byte commits
// keep the journal near an eighth of the limit, and the file small,
// instead of growing by a page per commit until their entries alone
// reach it.
func TestSmallCommitsCheckpointByPages(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	const limit = 64 << 10
	db, err := OpenStorage(m, Options{ManualSync: true, CheckpointBytes: limit})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	for i := range 1000 {
		mustT(t, db.Update(func(tx *Tx) error {
			_, err := tx.Insert("s", make([]byte, 100))
			return err
		}))
		db.wmu.Lock()
		pages, entries := db.jw.Pages(), db.jw.End()-db.durable.Checkpoint
		db.wmu.Unlock()
		if pages<<journal.PageExp > limit/6 {
			t.Fatalf("after %d small commits the journal holds %d pages (%d entry bytes since the checkpoint); the limit is %d bytes", i+1, pages, entries, limit)
		}
	}
	// 1,000 records in pages of 512 bytes, their address pages, and the
	// journal: well under a page per commit.
	if size := m.Size(); size > 1000*(1<<journal.PageExp)/2 {
		t.Fatalf("1,000 small commits made a file of %d bytes", size)
	}
	mustT(t, db.Check())
}

// TestClosedSnapshotHoldsNothing: once a snapshot is closed and the
// database closed, one collection frees the database, even if the
// snapshot itself became garbage without a second look. The crash
// simulator opens a database per crash state and held gigabytes when a
// closed snapshot's safety-net cleanup kept its database alive until the
// cleanup had run.
func TestClosedSnapshotHoldsNothing(t *testing.T) {
	w := openAndSnapshot(t)
	runtime.GC()
	if w.Value() != nil {
		t.Fatal("a closed database with a closed snapshot survived a collection")
	}
}

func openAndSnapshot(t *testing.T) weak.Pointer[DB] {
	db, err := OpenMemory(Options{ManualSync: true}) // no background worker
	mustT(t, err)
	snap, err := db.Snapshot()
	mustT(t, err)
	mustT(t, snap.Close())
	mustT(t, db.Close())
	return weak.Make(db)
}
