package persy

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/gopersy/persy/sim/diskmodel"
)

func putRange(t *testing.T, db *DB, ix Index[int64, int64], from, to int64) {
	t.Helper()
	mustT(t, db.Update(func(tx *Tx) error {
		for k := from; k < to; k++ {
			if err := ix.Put(tx, k, -k); err != nil {
				return err
			}
		}
		return nil
	}))
}

func countKeys(t *testing.T, r Reader, ix Index[int64, int64]) int {
	t.Helper()
	return len(rangeAll(t, ix.Range(r, Unbounded[int64](), Unbounded[int64]())))
}

// TestIndexSnapshotAndDrop: a snapshot reads the tree as it was through
// later changes and the index's drop; once it closes, the drop's node
// pages are free, and a new index of the same size takes them instead of
// growing the file.
func TestIndexSnapshotAndDrop(t *testing.T) {
	disk := diskmodel.New(diskmodel.Options{})
	db, err := OpenStorage(disk, Options{ManualSync: true})
	mustT(t, err)
	defer db.Close()
	ix := IndexOf[int64, int64]("i")
	mustT(t, db.Update(func(tx *Tx) error { return CreateIndex[int64, int64](tx, "i", Replace) }))
	putRange(t, db, ix, 0, 5000)
	mustT(t, db.Checkpoint())
	end := disk.Size
	full := end()
	snap, err := db.Snapshot()
	mustT(t, err)
	putRange(t, db, ix, 5000, 6000)
	mustT(t, db.Update(func(tx *Tx) error { return ix.Remove(tx, 7) }))
	mustT(t, db.Update(func(tx *Tx) error { return tx.DropIndex("i") }))
	mustT(t, db.Checkpoint())
	if n := countKeys(t, snap, ix); n != 5000 {
		t.Fatalf("the snapshot reads %d keys of 5000 after the drop", n)
	}
	if _, ok, _ := ix.One(snap, 7); !ok {
		t.Fatal("the snapshot lost key 7")
	}
	if _, err := ix.Get(mustSnap(t, db), 7); !errors.Is(err, ErrIndexNotFound) {
		t.Fatalf("a read of the dropped index: %v", err)
	}
	mustT(t, snap.Close())
	mustT(t, db.Checkpoint())
	mustT(t, db.Checkpoint())
	mustT(t, db.Check())
	dropped := end()
	mustT(t, db.Update(func(tx *Tx) error { return CreateIndex[int64, int64](tx, "i", Replace) }))
	putRange(t, db, ix, 0, 5000)
	mustT(t, db.Checkpoint())
	mustT(t, db.Check())
	if again := end(); again > dropped+(full-dropped)/4+64<<10 {
		t.Fatalf("the file grew from %d to %d bytes for an index the size of the dropped one (%d bytes when it was built)", dropped, again, full)
	}
}

// TestIndexPreparedDecisions: an index change prepared and left
// undecided by a crash is what the caller decides at recovery: rollback
// leaves no key behind, commit all of them, in an index that existed and
// in one the transaction created.
func TestIndexPreparedDecisions(t *testing.T) {
	for _, decide := range []Decision{DecideRollback, DecideCommit} {
		path := filepath.Join(t.TempDir(), "db")
		ix := IndexOf[int64, int64]("i")
		fresh := IndexOf[string, RecordID]("fresh")
		db, err := OpenOrCreate(path, smallNodes, func(tx *Tx) error { return CreateIndex[int64, int64](tx, "i", Cluster) })
		mustT(t, err)
		putRange(t, db, ix, 0, 300)
		tx, err := db.Begin(TxOptions{ID: []byte("xa")})
		mustT(t, err)
		for k := range int64(300) {
			mustT(t, ix.Put(tx, k, k))
			if k%3 == 0 {
				mustT(t, ix.Remove(tx, k))
			}
		}
		mustT(t, CreateIndex[string, RecordID](tx, "fresh", Exclusive))
		mustT(t, fresh.Put(tx, "a", RecordID{Page: 1, Pos: 2}))
		_, err = tx.Prepare()
		mustT(t, err)
		mustT(t, db.Close()) // left prepared, as by a crash
		db, err = Open(path, Options{ManualSync: true, OnPrepared: func([]byte) Decision { return decide }})
		mustT(t, err)
		s := mustSnap(t, db)
		vals := 0
		for e, err := range ix.Range(s, Unbounded[int64](), Unbounded[int64]()) {
			mustT(t, err)
			vals += len(e.Values)
		}
		exists, err := s.IndexExists("fresh")
		mustT(t, err)
		if decide == DecideRollback {
			if vals != 300 || exists {
				t.Errorf("rolled back: %d values (want 300), fresh index exists %v", vals, exists)
			}
		} else {
			// 200 keys hold two values, 100 were removed.
			if id, ok, err := fresh.One(s, "a"); vals != 400 || !ok || err != nil || id != (RecordID{Page: 1, Pos: 2}) {
				t.Errorf("committed: %d values (want 400), fresh key %v %v %v", vals, id, ok, err)
			}
		}
		mustT(t, db.Check())
		mustT(t, db.Close())
	}
}

// TestIndexStrategies: the strategies treat index keys as records: a key
// changed (its values differ) between the transaction's first read or
// write of it and its prepare is a conflict as a record's version is.
func TestIndexStrategies(t *testing.T) {
	db := openIndexDB(t, Options{ManualSync: true})
	ix := IndexOf[int64, int64]("i")
	mustT(t, db.Update(func(tx *Tx) error { return CreateIndex[int64, int64](tx, "i", Replace) }))
	putRange(t, db, ix, 0, 10)
	between := int64(200)
	run := func(s Strategy, read bool, key int64) error {
		between++
		tx, err := db.Begin(TxOptions{Strategy: s})
		mustT(t, err)
		if read {
			_, err := ix.Get(tx, 1)
			mustT(t, err)
		}
		mustT(t, ix.Put(tx, key, 100))
		mustT(t, db.Update(func(o *Tx) error { return ix.Put(o, 1, between) })) // a commit in between
		return tx.Commit()
	}
	if err := run(LastWin, true, 1); err != nil {
		t.Errorf("LastWin: %v", err)
	}
	if err := run(VersionOnWrite, false, 1); !errors.Is(err, ErrVersionNotLatest) {
		t.Errorf("VersionOnWrite, the key written changed: %v", err)
	}
	if err := run(VersionOnWrite, true, 2); err != nil {
		t.Errorf("VersionOnWrite, a key read changed: %v", err)
	}
	if err := run(VersionOnRead, true, 2); !errors.Is(err, ErrVersionNotLatest) {
		t.Errorf("VersionOnRead, a key read changed: %v", err)
	}
	if err := run(VersionOnRead, false, 3); err != nil {
		t.Errorf("VersionOnRead, nothing read changed: %v", err)
	}
}
