package persy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopersy/persy/mmapfile"
)

// closeCounter is a Storage that counts its Close calls; with keep set
// it does not pass them on, so that the storage can be opened again.
type closeCounter struct {
	mmapfile.Storage
	closes int
	keep   bool
}

func (c *closeCounter) Close() error {
	c.closes++
	if c.keep {
		return nil
	}
	return c.Storage.Close()
}

// notADatabase returns a storage holding 1 MiB of bytes that are not a
// persy-go file (more than a format cut short leaves, which OpenStorage
// formats again).
func notADatabase(t *testing.T) *closeCounter {
	t.Helper()
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	mustT(t, m.Grow(1<<20))
	mustT(t, m.WriteAt(bytes.Repeat([]byte("not persy "), 100000), 0))
	return &closeCounter{Storage: m}
}

// TestStorageOwnership: a Storage handed to OpenStorage or Recover
// belongs to persy-go whatever the outcome: it is closed when the open
// fails, when Recovery.Close gives up, and at DB.Close after success.
func TestStorageOwnership(t *testing.T) {
	t.Run("OpenStorage fails", func(t *testing.T) {
		s := notADatabase(t)
		if _, err := OpenStorage(s, Options{}); !errors.Is(err, ErrNotPersyFile) {
			t.Fatalf("OpenStorage of garbage: %v, want ErrNotPersyFile", err)
		}
		if s.closes == 0 {
			t.Fatal("a failed OpenStorage left the storage open")
		}
	})
	t.Run("Recover fails", func(t *testing.T) {
		s := notADatabase(t)
		if _, err := Recover(s, Options{}); !errors.Is(err, ErrNotPersyFile) {
			t.Fatalf("Recover of garbage: %v, want ErrNotPersyFile", err)
		}
		if s.closes == 0 {
			t.Fatal("a failed Recover left the storage open")
		}
	})
	t.Run("OpenStorage succeeds", func(t *testing.T) {
		m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
		mustT(t, err)
		s := &closeCounter{Storage: m}
		db, err := OpenStorage(s, Options{})
		mustT(t, err)
		if s.closes != 0 {
			t.Fatal("a successful OpenStorage closed the storage")
		}
		mustT(t, db.Close())
		if s.closes == 0 {
			t.Fatal("DB.Close left the storage open")
		}
	})
	t.Run("Recovery.Close", func(t *testing.T) {
		m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
		mustT(t, err)
		db, err := OpenStorage(&closeCounter{Storage: m, keep: true}, Options{})
		mustT(t, err)
		mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
		mustT(t, db.Close())
		s := &closeCounter{Storage: m}
		rec, err := Recover(s, Options{})
		mustT(t, err)
		mustT(t, rec.Close())
		if s.closes != 1 {
			t.Fatalf("Recovery.Close closed the storage %d times, want once", s.closes)
		}
		if err := rec.Commit([]byte("x")); !errors.Is(err, ErrTxDone) {
			t.Errorf("Commit after Close: %v, want ErrTxDone", err)
		}
		if _, err := rec.Finish(); !errors.Is(err, ErrTxDone) {
			t.Errorf("Finish after Close: %v, want ErrTxDone", err)
		}
		mustT(t, rec.Close())
		if s.closes != 1 {
			t.Fatalf("a second Recovery.Close closed the storage again")
		}
	})
}

// TestRecoveryCloseReleasesTheFile: a recovery given up with Close
// releases the file's lock and writes nothing.
func TestRecoveryCloseReleasesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	mustT(t, db.Close())
	before, err := os.ReadFile(path)
	mustT(t, err)
	rec, err := OpenRecover(path, Options{})
	mustT(t, err)
	if _, err := Open(path, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while a recovery holds the file: %v, want ErrLocked", err)
	}
	mustT(t, rec.Close())
	after, err := os.ReadFile(path)
	mustT(t, err)
	if !bytes.Equal(before, after) {
		t.Fatal("a recovery given up with Close changed the file")
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after Recovery.Close: %v", err)
	}
	mustT(t, db.Close())
}
