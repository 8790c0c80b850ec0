package txn

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

// TestCloseTrimsUnusedTail: the file grows ahead of the pages the
// database holds; Close cuts it back to the furthest allocator end of
// its root copies, keeping the ballast past it, and the file opens from
// there whole, reads as written, and grows again for what comes next. A
// read-only Close cuts nothing.
func TestCloseTrimsUnusedTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{ManualSync: true}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	want := map[RecordID]string{}
	insert := func(db *DB, commits int) {
		t.Helper()
		for c := range commits {
			mustT(t, db.Update(func(tx *Tx) error {
				for i := range 500 {
					v := fmt.Sprintf("%d-%d-%0200d", c, i, len(want))
					id, err := tx.Insert("s", []byte(v))
					if err != nil {
						return err
					}
					want[id] = v
				}
				return nil
			}))
		}
	}
	insert(db, 20)
	st, err := db.Stats()
	mustT(t, err)
	grown := st.FileBytes
	if grown <= st.EndBytes+page.BallastBytes+mmapfile.PageBytes {
		t.Fatalf("the file (%d bytes) did not grow ahead of its end (%d): nothing to trim", st.FileBytes, st.EndBytes)
	}
	mustT(t, db.Close())
	size := func() int64 {
		fi, err := os.Stat(path)
		mustT(t, err)
		return fi.Size()
	}
	reopen := func(opts Options) *DB {
		db, err := Open(path, opts)
		mustT(t, err)
		mustT(t, db.Check())
		mustT(t, db.View(func(s *Snapshot) error {
			got := scanAll(t, s.Scan("s"))
			if len(got) != len(want) {
				t.Fatalf("%d records read back, %d written", len(got), len(want))
			}
			for id, v := range want {
				if got[id] != v {
					t.Fatalf("record %v reads %q, was written %q", id, got[id], v)
				}
			}
			return nil
		}))
		return db
	}
	db = reopen(Options{})
	end := page.Ends(db.s)
	if cut := size(); cut >= grown || cut < end+page.BallastBytes || cut >= end+page.BallastBytes+mmapfile.PageBytes {
		t.Fatalf("after Close the file is %d bytes (%d before), its root copies end at %d at most", cut, grown, end)
	}
	insert(db, 5)
	mustT(t, db.Close())
	closed := size()
	ro := reopen(Options{ReadOnly: true})
	mustT(t, ro.Close())
	if size() != closed {
		t.Fatalf("a read-only Close changed the file from %d to %d bytes", closed, size())
	}
	mustT(t, reopen(Options{}).Close())
}

// TestCloseCutKeepsOlderRootCopy: a checkpoint whose root state ends the
// allocator lower than the state before it, then a Close that stores
// nothing: the newest root copy may not be
// durable (a process killed before its barrier leaves it to the page
// cache, where the next open reads it), and a crash then leaves the older
// one, which must still find its pages in the file. The newest copy's
// loss is played by zeroing its slot after Close.
func TestCloseCutKeepsOlderRootCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{ManualSync: true}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	for range 3 {
		mustT(t, db.Checkpoint())
	}
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateSegment("b"); err != nil {
			return err
		}
		_, err := tx.Insert("b", make([]byte, 20<<10))
		return err
	}))
	mustT(t, db.Checkpoint())
	mustT(t, db.Update(func(tx *Tx) error { return tx.DropSegment("b") }))
	// A root copy's payload starts with its generation and its
	// allocator's end; the two slots follow the 1 KiB root page.
	var gens, ends [2]int64
	newest := 0
	for range 4 {
		mustT(t, db.Checkpoint())
		b, err := os.ReadFile(path)
		mustT(t, err)
		for i := range 2 {
			off := 1024*(i+1) + page.HeaderSize
			gens[i], ends[i] = int64(binary.LittleEndian.Uint64(b[off:])), int64(binary.LittleEndian.Uint64(b[off+8:]))
		}
		newest = 0
		if gens[1] > gens[0] {
			newest = 1
		}
		if ends[1-newest] > ends[newest] {
			break
		}
	}
	if ends[1-newest] <= ends[newest] {
		t.Fatalf("root copies of generations %d (end %d) and %d (end %d): the newest does not end lower", gens[newest], ends[newest], gens[1-newest], ends[1-newest])
	}
	mustT(t, db.Close()) // nothing to write: it cuts
	// The older copy finds its pages, and its ballast past them.
	fi, err := os.Stat(path)
	mustT(t, err)
	if fi.Size() < ends[1-newest]+page.BallastBytes {
		t.Fatalf("the file is cut to %d bytes; the older root copy ends at %d, and the ballast takes %d more", fi.Size(), ends[1-newest], page.BallastBytes)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	mustT(t, err)
	_, err = f.WriteAt(make([]byte, 1024), int64(1024*(newest+1)))
	mustT(t, err)
	mustT(t, f.Close())
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatalf("the cut file does not open on the older root copy: %v", err)
	}
	mustT(t, db.Check())
	mustT(t, db.Close())
}
