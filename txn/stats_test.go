package txn

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gopersy/persy/index"
)

// checkPageSum: the kinds of page Stats counts cover the allocated part
// of the file exactly, as Check says the walk does.
func checkPageSum(t *testing.T, st Stats) {
	t.Helper()
	var sum int64
	for i, p := range st.Pages {
		if p.Kind != PageKinds[i] {
			t.Fatalf("page kind %d is %q, want %q", i, p.Kind, PageKinds[i])
		}
		sum += p.Bytes
	}
	if sum != st.EndBytes || st.EndBytes > st.FileBytes {
		t.Fatalf("pages by kind sum to %d bytes, the allocator's end is %d, the file %d: %+v", sum, st.EndBytes, st.FileBytes, st.Pages)
	}
}

func pageCount(st Stats, kind string) PageCount {
	for _, p := range st.Pages {
		if p.Kind == kind {
			return p
		}
	}
	return PageCount{}
}

// TestStats: Stats counts the records and keys of the latest commit,
// checkpointed or still in the journal, the file's pages by kind (which
// cover it), and the prepared transactions, in a database open for
// writing and in one opened read-only, which recovery leaves undecided.
func TestStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{CheckpointBytes: 1 << 30}, func(tx *Tx) error {
		if err := tx.CreateSegment("a"); err != nil {
			return err
		}
		if err := tx.CreateSegment("empty"); err != nil {
			return err
		}
		return tx.CreateIndex("i", index.I64, index.String, Cluster)
	})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error {
		for k := range 50 {
			if _, err := tx.Insert("a", bytes.Repeat([]byte("x"), 100+k)); err != nil {
				return err
			}
			// 25 keys, two values each.
			if err := tx.IndexPut("i", index.I64, index.String, i64(int64(k/2)), fmt.Appendf(nil, "v%d", k)); err != nil {
				return err
			}
		}
		return nil
	}))
	mustT(t, db.Checkpoint())
	// Pages freed by deletes, two checkpoints ago, are on the free lists.
	var gone []RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		for range 40 {
			id, err := tx.Insert("a", make([]byte, 600))
			if err != nil {
				return err
			}
			gone = append(gone, id)
		}
		return nil
	}))
	mustT(t, db.Checkpoint())
	for _, id := range gone {
		mustT(t, db.Update(func(tx *Tx) error { return tx.Delete("a", id) }))
		mustT(t, db.Checkpoint())
	}
	// A commit the journal holds, not yet checkpointed.
	mustT(t, db.Update(func(tx *Tx) error {
		_, err := tx.Insert("a", make([]byte, 3000))
		return err
	}))
	tx, err := db.Begin(TxOptions{ID: []byte("xa-1")})
	mustT(t, err)
	_, err = tx.Insert("a", []byte("prepared"))
	mustT(t, err)
	_, err = tx.Prepare()
	mustT(t, err)

	wantRecordBytes := int64(3000)
	// A pack of 512 bytes holds a 32-byte header, 10 of its own, and
	// 10 more per record: 100 to 149 bytes, three a pack.
	wantPacks, used := int64(1), 10
	for k := range 50 {
		wantRecordBytes += int64(100 + k)
		if used+10+100+k > 512-32 {
			wantPacks, used = wantPacks+1, 10
		}
		used += 10 + 100 + k
	}
	check := func(name string, db *DB) {
		t.Helper()
		st, err := db.Stats()
		mustT(t, err)
		checkPageSum(t, st)
		if len(st.Segments) != 2 || st.Segments[0].Name != "a" || st.Segments[1].Name != "empty" {
			t.Fatalf("%s: segments %+v, want a and empty", name, st.Segments)
		}
		a := st.Segments[0]
		if a.Records != 51 || a.RecordBytes != wantRecordBytes || a.AddressPages != 1 || a.DataBytes < a.RecordBytes {
			t.Errorf("%s: segment a %+v, want 51 records of %d bytes on one address page", name, a, wantRecordBytes)
		}
		if e := st.Segments[1]; e.Records != 0 || e.RecordBytes != 0 {
			t.Errorf("%s: segment empty %+v", name, e)
		}
		if len(st.Indexes) != 1 {
			t.Fatalf("%s: indexes %+v, want i", name, st.Indexes)
		}
		if i := st.Indexes[0]; i.Name != "i" || i.Key != index.I64 || i.Value != index.String || i.Mode != Cluster ||
			i.Keys != 25 || i.Values != 50 || i.Depth != 1 || i.Nodes != 1 || i.NodeBytes <= 0 {
			t.Errorf("%s: index %+v, want 25 keys of 2 values in one leaf", name, i)
		}
		// 50 small records in packs, each counted once, and the
		// definition and leaf of the index on data pages; the 3000-byte
		// record is in the journal only.
		if d, ix := pageCount(st, "data"), pageCount(st, "index"); d.Pages != wantPacks || ix.Pages != 2 {
			t.Errorf("%s: %d data and %d index pages, want %d and 2", name, d.Pages, ix.Pages, wantPacks)
		}
		if st.Journal.Pages == 0 || st.Journal.Bytes != int64(st.Journal.Pages)<<12 || st.Journal.EntryBytes < 3000 {
			t.Errorf("%s: journal %+v: it holds a 3000-byte record", name, st.Journal)
		}
		if !slices.EqualFunc(st.Prepared, [][]byte{[]byte("xa-1")}, bytes.Equal) {
			t.Errorf("%s: prepared %q, want xa-1", name, st.Prepared)
		}
		if len(st.Free) == 0 {
			t.Errorf("%s: no free pages after 40 deletes", name)
		}
		var free int64
		for _, f := range st.Free {
			if f.Pages <= 0 || f.Bytes != f.Pages*f.PageBytes {
				t.Errorf("%s: free class %+v", name, f)
			}
			free += f.Bytes
		}
		if free != pageCount(st, "free").Bytes {
			t.Errorf("%s: free classes sum to %d bytes, free pages take %d", name, free, pageCount(st, "free").Bytes)
		}
	}
	check("open", db)
	b, err := os.ReadFile(path)
	mustT(t, err)
	mustT(t, db.Close())

	// What a process killed then leaves, opened read-only.
	crashed := filepath.Join(t.TempDir(), "crashed")
	mustT(t, os.WriteFile(crashed, b, 0o644))
	ro, err := Open(crashed, Options{ReadOnly: true})
	mustT(t, err)
	check("read-only", ro)
	mustT(t, ro.Close())
	after, err := os.ReadFile(crashed)
	mustT(t, err)
	if !bytes.Equal(b, after) {
		t.Fatal("Stats on a read-only database changed the file")
	}
}
