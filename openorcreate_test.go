package persy

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenOrCreateInitIsAtomic: a failing init leaves no file behind, so
// the next OpenOrCreate runs init again.
func TestOpenOrCreateInitIsAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	boom := errors.New("boom")
	if _, err := OpenOrCreate(path, Options{}, func(tx *Tx) error {
		if err := tx.CreateSegment("s"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing init: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a file is left after a failed init: %v", err)
	}
	runs := 0
	db, err := OpenOrCreate(path, Options{}, func(tx *Tx) error { runs++; return tx.CreateSegment("s") })
	mustT(t, err)
	mustT(t, db.Close())
	db, err = OpenOrCreate(path, Options{}, func(tx *Tx) error { runs++; return nil })
	mustT(t, err)
	defer db.Close()
	if runs != 1 {
		t.Fatalf("init ran %d times, want once", runs)
	}
	ok, err := func() (bool, error) {
		tx, err := db.Begin(TxOptions{})
		if err != nil {
			return false, err
		}
		defer tx.Rollback()
		return tx.SegmentExists("s")
	}()
	if err != nil || !ok {
		t.Fatalf("init's segment: %v, %v", ok, err)
	}
}
