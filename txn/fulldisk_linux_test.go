//go:build linux

package txn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/gopersy/persy/page"
	"golang.org/x/sys/unix"
)

// smallFS mounts a tmpfs of size bytes for the test, or skips it where
// the machine does not let the test mount one (no privilege, no tmpfs).
func smallFS(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a %d-byte tmpfs to fill (%v): the full-disk case runs on the simulated disk's enospc profile only", size, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestFullDisk fills a real small file system with durable inserts until
// one fails with ENOSPC, then shows what a user can still do there: the
// database is not stopped and reads; it closes, and opens again
// read-only and read-write, reading everything acknowledged; and a
// commit there fails with ENOSPC again and stops nothing.
func TestFullDisk(t *testing.T) {
	dir := smallFS(t, 6<<20)
	path := filepath.Join(dir, "db")
	db, err := OpenOrCreate(path, Options{}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	acked := map[RecordID]string{}
	insert := func(db *DB, v string) (RecordID, error) {
		var id RecordID
		err := db.Update(func(tx *Tx) error {
			var err error
			id, err = tx.Insert("s", []byte(v))
			return err
		})
		return id, err
	}
	var full error
	for i := 0; full == nil; i++ {
		v := fmt.Sprintf("%02000d", i)
		id, err := insert(db, v)
		if full = err; err == nil {
			acked[id] = v
		}
		if i > 10000 {
			t.Fatal("10,000 inserts of 2,000 bytes fit in 6 MiB")
		}
	}
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("the insert that found the disk full: %v, want an error wrapping ENOSPC", full)
	}
	t.Logf("%d inserts acknowledged before ENOSPC: %v", len(acked), full)
	stillOpen := func(db *DB, when string) {
		t.Helper()
		if err := db.Sync(); err != nil {
			t.Fatalf("%s, the database is stopped: %v", when, err)
		}
		readsAll(t, db, acked)
		if _, err := insert(db, fmt.Sprintf("%02000d", -1)); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("%s, an insert: %v, want ENOSPC again", when, err)
		}
	}
	stillOpen(db, "after ENOSPC")
	mustT(t, db.Close())
	fi, err := os.Stat(path)
	mustT(t, err)

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("a read-only open on the full disk: %v", err)
	}
	readsAll(t, ro, acked)
	mustT(t, ro.Close())

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("a read-write open on the full disk: %v", err)
	}
	stillOpen(db, "reopened on the full disk")
	mustT(t, db.Check())
	mustT(t, db.Close())
	fi2, err := os.Stat(path)
	mustT(t, err)
	if fi2.Size() > fi.Size()+page.GrowBytes {
		t.Errorf("an open and close grew the file from %d to %d bytes", fi.Size(), fi2.Size())
	}

	// Space can be freed there: deletes commit, and the pages they free
	// take new inserts, one commit each, nearly as many as were deleted
	// (the reserves a commit keeps for the checkpoint after it count
	// high), until the disk is full again.
	db, err = Open(path, Options{})
	mustT(t, err)
	freed := 0
	for id := range acked {
		if freed == 100 {
			break
		}
		if err := db.Update(func(tx *Tx) error { return tx.Delete("s", id) }); err != nil {
			t.Fatalf("delete %d of 100 on the full disk: %v", freed+1, err)
		}
		delete(acked, id)
		freed++
	}
	fit := 0
	for ; ; fit++ {
		v := fmt.Sprintf("%02000d", -2-fit)
		id, err := insert(db, v)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		mustT(t, err)
		acked[id] = v
		if fit > 2*freed {
			t.Fatalf("%d inserts fit after %d deletes", fit, freed)
		}
	}
	t.Logf("%d inserts fit after %d deletes", fit, freed)
	if fit < freed*9/10 {
		t.Fatalf("%d deletes made room for %d inserts of the same size, want at least %d", freed, fit, freed*9/10)
	}
	stillOpen(db, "full again")
	mustT(t, db.Check())
	mustT(t, db.Close())
	db, err = Open(path, Options{})
	mustT(t, err)
	readsAll(t, db, acked)
	mustT(t, db.Close())
}
