package txn

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestRecoveredPreparedInsertKeepsItsSlot: a prepared insert that recovery
// commits owns its slot; the next insert must get another one, and the
// file must reopen. (Recovery used to list the slot free.)
func TestRecoveredPreparedInsertKeepsItsSlot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{ManualSync: true}, func(tx *Tx) error {
		if err := tx.CreateSegment("s"); err != nil {
			return err
		}
		_, err := tx.Insert("s", []byte("first"))
		return err
	})
	mustT(t, err)
	tx, err := db.Begin(TxOptions{ID: []byte("xa")})
	mustT(t, err)
	prepared, err := tx.Insert("s", []byte("prepared"))
	mustT(t, err)
	_, err = tx.Prepare()
	mustT(t, err)
	mustT(t, db.Close()) // left prepared, as by a crash
	db, err = Open(path, Options{ManualSync: true})
	mustT(t, err)
	var next RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		next, err = tx.Insert("s", []byte("new"))
		return err
	}))
	if next == prepared {
		t.Fatalf("insert got the slot %v of the recovered prepared insert", next)
	}
	mustT(t, db.Close())
	db, err = Open(path, Options{ManualSync: true})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.View(func(s *Snapshot) error {
		if n := len(scanAll(t, s.Scan("s"))); n != 3 {
			t.Errorf("%d records after reopen, want 3", n)
		}
		return nil
	}))
	mustT(t, db.Check())
}

// TestEmptySegmentNameIsRefused: bad input fails its own call and stops
// nothing else.
func TestEmptySegmentNameIsRefused(t *testing.T) {
	db, err := OpenMemory(Options{ManualSync: true})
	mustT(t, err)
	defer db.Close()
	if err := db.Update(func(tx *Tx) error { return tx.CreateSegment("") }); !errors.Is(err, ErrEmptyName) {
		t.Fatalf("empty name: %v", err)
	}
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("ok") }))
}

// TestScanAcrossCloseEndsWithErrClosed: a scan reading data pages while
// the database closes ends with ErrClosed, never a panic.
func TestScanAcrossCloseEndsWithErrClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{ManualSync: true}, func(tx *Tx) error {
		if err := tx.CreateSegment("s"); err != nil {
			return err
		}
		for range 3 {
			if _, err := tx.Insert("s", []byte("x")); err != nil {
				return err
			}
		}
		return nil
	})
	mustT(t, err)
	mustT(t, db.Checkpoint()) // the records are on data pages now
	snap, err := db.Snapshot()
	mustT(t, err)
	var last error
	n := 0
	for _, err := range snap.Scan("s") {
		if n == 0 {
			db.Close()
		}
		n++
		last = err
	}
	if !errors.Is(last, ErrClosed) {
		t.Fatalf("scan across Close ended with %v after %d pairs", last, n)
	}
}
