package txn

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopersy/persy/mmapfile"
)

// TestCloseTrimsUnusedTail: the file grows ahead of the pages the
// database holds; Close cuts it back to the allocator's end, and the
// file opens from there whole, reads as written, and grows again for
// what comes next. A read-only Close cuts nothing.
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
	if st.FileBytes <= st.EndBytes+mmapfile.PageBytes {
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
	st, err = db.Stats()
	mustT(t, err)
	if cut := size(); cut >= st.EndBytes+mmapfile.PageBytes || cut < st.EndBytes {
		t.Fatalf("after Close the file is %d bytes, its allocator's end %d", cut, st.EndBytes)
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
