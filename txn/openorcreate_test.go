package txn

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gopersy/persy/mmapfile"
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

// TestOpenOrCreateLeavesOtherCreationsAlone: the file of a creation a
// crash cut short is removed, the file of one under way is not, and
// creators racing on one path end with one file holding one init.
func TestOpenOrCreateLeavesOtherCreationsAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	stale := path + creatingSuffix + "1-1"
	mustT(t, os.WriteFile(stale, []byte("left by a crash"), 0o644))
	busyPath := path + creatingSuffix + "2-1"
	busy, err := mmapfile.Create(busyPath, mmapfile.Options{})
	mustT(t, err)
	defer busy.Close()

	db, err := OpenOrCreate(path, Options{}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	mustT(t, db.Close())
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a stale creation's file is still there: %v", err)
	}
	if _, err := os.Stat(busyPath); err != nil {
		t.Errorf("the file of a creation under way was removed: %v", err)
	}

	racy := filepath.Join(dir, "racy")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			db, err := OpenOrCreate(racy, Options{}, func(tx *Tx) error {
				if err := tx.CreateSegment("s"); err != nil {
					return err
				}
				_, err := tx.Insert("s", []byte("init"))
				return err
			})
			if err == nil {
				err = db.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		// A creator may meet the file held by another, or see its own
		// file taken as stale by another before it locked it.
		if err != nil && !errors.Is(err, ErrLocked) && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a racing creator: %v", err)
		}
	}
	db, err = Open(racy, Options{})
	mustT(t, err)
	defer db.Close()
	snap, err := db.Snapshot()
	mustT(t, err)
	defer snap.Close()
	n := 0
	for _, err := range snap.Scan("s") {
		mustT(t, err)
		n++
	}
	if n != 1 {
		t.Fatalf("the created file holds %d init records, want 1", n)
	}
	ents, err := os.ReadDir(dir)
	mustT(t, err)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "racy"+creatingSuffix) {
			t.Errorf("a creation left %s", e.Name())
		}
	}
}
