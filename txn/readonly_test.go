package txn

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopersy/persy/mmapfile"
)

// liveCopy builds a database whose journal holds commits not yet
// checkpointed, a delete among them, and a prepared transaction, and
// returns a copy of its file taken while it is open: what a process
// killed then leaves. The copy is read-only.
func liveCopy(t *testing.T) (path string, ids map[string]RecordID) {
	t.Helper()
	dir := t.TempDir()
	live := filepath.Join(dir, "live")
	db, err := OpenOrCreate(live, Options{CheckpointBytes: 1 << 30}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	ids = map[string]RecordID{}
	insert := func(o TxOptions, names ...string) *Tx {
		tx, err := db.Begin(o)
		mustT(t, err)
		for _, n := range names {
			ids[n], err = tx.Insert("s", []byte(n))
			mustT(t, err)
		}
		return tx
	}
	mustT(t, insert(TxOptions{}, "a", "b").Commit())
	mustT(t, db.Checkpoint())
	mustT(t, insert(TxOptions{}, "c").Commit())
	mustT(t, db.Update(func(tx *Tx) error { return tx.Delete("s", ids["a"]) }))
	if _, err := insert(TxOptions{ID: []byte("xa")}, "p").Prepare(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(live)
	mustT(t, err)
	mustT(t, db.Close())
	path = filepath.Join(dir, "copy")
	mustT(t, os.WriteFile(path, b, 0o444))
	return path, ids
}

// TestReadOnlyOpenWritesNothing: a read-only open of a file that needs
// recovery reads what was committed, leaves the prepared transaction
// undecided, refuses every change, lets other readers in and writers
// not, and leaves the file's bytes and mtime as they were.
func TestReadOnlyOpenWritesNothing(t *testing.T) {
	path, ids := liveCopy(t)
	before, err := os.ReadFile(path)
	mustT(t, err)
	fi, err := os.Stat(path)
	mustT(t, err)

	rec, err := OpenRecover(path, Options{ReadOnly: true})
	mustT(t, err)
	var prepared []string
	for _, tx := range rec.Transactions() {
		if tx.Status == StatusPrepared {
			prepared = append(prepared, string(tx.ID))
		}
	}
	if !slices.Equal(prepared, []string{"xa"}) {
		t.Fatalf("read-only recovery lists %q prepared, want xa", prepared)
	}
	for _, decide := range []func([]byte) error{rec.Commit, rec.Rollback} {
		if err := decide([]byte("xa")); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("a decision in a read-only recovery: %v, want ErrReadOnly", err)
		}
	}
	db, err := rec.Finish()
	mustT(t, err)
	called := false
	db2, err := Open(path, Options{ReadOnly: true, OnPrepared: func([]byte) Decision { called = true; return DecideCommit }})
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	if called {
		t.Error("a read-only open decided a prepared transaction")
	}
	if w, err := Open(path, Options{}); !errors.Is(err, ErrLocked) {
		if err == nil {
			w.Close()
		}
		t.Fatalf("a read-write open while readers hold the file: %v, want ErrLocked", err)
	}
	for _, d := range []*DB{db, db2} {
		mustT(t, d.View(func(s *Snapshot) error {
			got := scanAll(t, s.Scan("s"))
			want := map[RecordID]string{ids["b"]: "b", ids["c"]: "c"}
			if len(got) != len(want) || got[ids["b"]] != "b" || got[ids["c"]] != "c" {
				t.Errorf("read-only scan: %v, want %v (committed only: no deleted a, no prepared p)", got, want)
			}
			if _, err := s.Read("s", ids["p"]); !errors.Is(err, ErrRecordNotFound) {
				t.Errorf("the prepared record reads as %v", err)
			}
			return nil
		}))
		mustT(t, d.Check())
	}
	if _, err := db.Begin(TxOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Begin: %v, want ErrReadOnly", err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.CreateSegment("t") }); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Update: %v, want ErrReadOnly", err)
	}
	if err := db.Checkpoint(); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Checkpoint: %v, want ErrReadOnly", err)
	}
	mustT(t, db.Sync())
	mustT(t, db.Close())
	mustT(t, db2.Close())

	after, err := os.ReadFile(path)
	mustT(t, err)
	fi2, err := os.Stat(path)
	mustT(t, err)
	if !bytes.Equal(before, after) || !fi.ModTime().Equal(fi2.ModTime()) || fi.Size() != fi2.Size() {
		t.Fatalf("read-only opens changed the file: bytes equal %v, mtime %v -> %v, size %d -> %d",
			bytes.Equal(before, after), fi.ModTime(), fi2.ModTime(), fi.Size(), fi2.Size())
	}

	// A writer then recovers it, deciding the prepared one, and keeps
	// readers out while it holds the file.
	mustT(t, os.Chmod(path, 0o644))
	w, err := Open(path, Options{})
	mustT(t, err)
	if r, err := Open(path, Options{ReadOnly: true}); !errors.Is(err, ErrLocked) {
		if err == nil {
			r.Close()
		}
		t.Fatalf("a read-only open while a writer holds the file: %v, want ErrLocked", err)
	}
	mustT(t, w.View(func(s *Snapshot) error {
		if got, err := s.Read("s", ids["p"]); err != nil || string(got) != "p" {
			t.Errorf("the prepared record after a read-write recovery committed it: %q %v", got, err)
		}
		return nil
	}))
	mustT(t, w.Close())
}

// TestReadOnlyRefusesWhatItWouldFormat: a read-only open never formats:
// not an empty storage, not a missing file.
func TestReadOnlyRefusesWhatItWouldFormat(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	if db, err := OpenStorage(m, Options{ReadOnly: true}); !errors.Is(err, ErrReadOnly) {
		if err == nil {
			db.Close()
		}
		t.Fatalf("a read-only open of an empty storage: %v, want ErrReadOnly", err)
	}
	path := filepath.Join(t.TempDir(), "none")
	if db, err := OpenOrCreate(path, Options{ReadOnly: true}, nil); err == nil {
		db.Close()
		t.Fatal("a read-only OpenOrCreate created a file")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a read-only OpenOrCreate left %v at its path", err)
	}
}
