package txn

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
	"github.com/gopersy/persy/sim/diskmodel"
)

// insertN inserts n records of segment s in one commit, each made by val
// from its index, and returns their ids.
func insertN(t *testing.T, db *DB, s string, n int, val func(i int) []byte) []RecordID {
	t.Helper()
	ids := make([]RecordID, n)
	mustT(t, db.Update(func(tx *Tx) error {
		for i := range ids {
			var err error
			if ids[i], err = tx.Insert(s, val(i)); err != nil {
				return err
			}
		}
		return nil
	}))
	return ids
}

// TestSnapshotReadsReplacedAddressPages: a snapshot reads the address
// pages on disk that its version has, while later checkpoints replace
// them and hand out freed pages of their size to records: the pages it
// reads are not reused before it closes, and are once it has.
func TestSnapshotReadsReplacedAddressPages(t *testing.T) {
	db, err := OpenMemory(Options{})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	n := 3 * segment.SlotsPerPage
	v0 := func(i int) []byte { return fmt.Appendf(nil, "v0 %d", i) }
	ids := insertN(t, db, "s", n, v0)
	mustT(t, db.Checkpoint())
	snap, err := db.Snapshot()
	mustT(t, err)
	// A read through every page, so that the snapshot has checked them.
	for i, id := range ids {
		if got, err := snap.Read("s", id); err != nil || !bytes.Equal(got, v0(i)) {
			t.Fatalf("snapshot read of record %d: %q, %v", i, got, err)
		}
	}
	mustT(t, db.Update(func(tx *Tx) error {
		for i, id := range ids {
			if err := tx.Update("s", id, fmt.Appendf(nil, "v1 %d", i)); err != nil {
				return err
			}
		}
		return nil
	}))
	mustT(t, db.Checkpoint()) // replaces every address page of s
	// Records of the address pages' size, in a segment of their own, take
	// every page of that size the checkpoints free.
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("big") }))
	for range 3 {
		insertN(t, db, "big", 8, func(i int) []byte { return bytes.Repeat([]byte{0xa5}, 3000) })
		mustT(t, db.Checkpoint())
	}
	got := scanAll(t, snap.Scan("s"))
	if len(got) != n {
		t.Fatalf("the snapshot scans %d records, want %d", len(got), n)
	}
	for i, id := range ids {
		if got[id] != string(v0(i)) {
			t.Fatalf("the snapshot reads record %d as %q, want %q", i, got[id], v0(i))
		}
	}
	retained := len(db.retained)
	if retained < 3 {
		t.Fatalf("%d pages retained while the snapshot is open, want its 3 address pages at least", retained)
	}
	mustT(t, snap.Close())
	mustT(t, db.Checkpoint())
	if len(db.retained) != 0 {
		t.Fatalf("%d pages retained after the snapshot closed", len(db.retained))
	}
	mustT(t, db.Check())
}

// TestOpenReadsNoAddressPage: opening a file reads none of its address
// pages, so one corrupt page fails the reads that need it, as corrupt,
// and Check, while the records of the other pages read back.
func TestOpenReadsNoAddressPage(t *testing.T) {
	d := diskmodel.New(diskmodel.Options{})
	db, err := OpenStorage(d, Options{})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	n := 3 * segment.SlotsPerPage
	val := func(i int) []byte { return fmt.Appendf(nil, "record %d", i) }
	ids := insertN(t, db, "s", n, val)
	mustT(t, db.Close())
	mustT(t, d.Reopen())

	// The segment's second address page, by the catalogue.
	st, err := page.Load(d)
	mustT(t, err)
	cat, _, err := segment.ReadCatalog(d, st.Catalog, st.End)
	mustT(t, err)
	second := cat.Segments[0].Pages[1]
	b := slices.Clone(d.Bytes(second.Addr+200, 1))
	b[0] ^= 0xff
	mustT(t, d.WriteAt(b, second.Addr+200))
	mustT(t, d.Sync())

	db, err = OpenStorage(d, Options{})
	mustT(t, err)
	defer db.Close()
	snap, err := db.Snapshot()
	mustT(t, err)
	defer snap.Close()
	var ce *CorruptError
	for i, id := range ids {
		got, err := snap.Read("s", id)
		onSecond := i/segment.SlotsPerPage == 1
		switch {
		case onSecond && !errors.As(err, &ce):
			t.Fatalf("read of record %d, on the corrupt page: %q, %v, want a corrupt page", i, got, err)
		case !onSecond && (err != nil || !bytes.Equal(got, val(i))):
			t.Fatalf("read of record %d: %q, %v", i, got, err)
		}
	}
	if err := db.Check(); !errors.As(err, &ce) {
		t.Fatalf("Check of a file with a corrupt address page: %v", err)
	}
}

// TestSlotsReusedAfterReopen: after a reopen the slots emptied before it
// are handed out again lowest first, a slot emptied after it first of
// all, a slot a rolled back transaction took back again, and none twice,
// though the empty slots are found page by page as they are needed.
func TestSlotsReusedAfterReopen(t *testing.T) {
	d := diskmodel.New(diskmodel.Options{})
	db, err := OpenStorage(d, Options{})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	n := 3 * segment.SlotsPerPage
	ids := insertN(t, db, "s", n, func(i int) []byte { return []byte{byte(i)} })
	emptied := []int{3, 7, segment.SlotsPerPage + 1, 2*segment.SlotsPerPage + 5, 2*segment.SlotsPerPage + 9}
	mustT(t, db.Update(func(tx *Tx) error {
		for _, i := range emptied {
			if err := tx.Delete("s", ids[i]); err != nil {
				return err
			}
		}
		return nil
	}))
	mustT(t, db.Close())
	mustT(t, d.Reopen())
	db, err = OpenStorage(d, Options{})
	mustT(t, err)
	defer db.Close()

	// Emptied now, on the last page, which no search has reached, and
	// taken by a transaction that stays open while another's inserts
	// search every page: the search passes it over.
	late := 2*segment.SlotsPerPage + 100
	mustT(t, db.Update(func(tx *Tx) error { return tx.Delete("s", ids[late]) }))
	open, err := db.Begin(TxOptions{})
	mustT(t, err)
	taken, err := open.Insert("s", []byte("rolled back"))
	mustT(t, err)
	if taken != ids[late] {
		t.Fatalf("the first insert after the reopen took %v, want the slot emptied last, %v", taken, ids[late])
	}
	got := insertN(t, db, "s", len(emptied)+2, func(i int) []byte { return []byte("new") })
	var want []RecordID
	for _, i := range emptied {
		want = append(want, ids[i])
	}
	for i := range 2 {
		want = append(want, idOfSlot(uint64(n+i)))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("inserts after the reopen took %v, want %v", got, want)
	}
	// Rolled back, the slot is the next taken.
	mustT(t, open.Rollback())
	if got := insertN(t, db, "s", 1, func(i int) []byte { return []byte("new") }); got[0] != ids[late] {
		t.Fatalf("the insert after a rollback took %v, want the slot it gave back, %v", got[0], ids[late])
	}
	all := scanAll(t, func(yield func(Record, error) bool) {
		snap, err := db.Snapshot()
		mustT(t, err)
		defer snap.Close()
		snap.Scan("s")(yield)
	})
	if len(all) != n+2 { // six emptied, eight inserted
		t.Fatalf("%d records, want %d", len(all), n+2)
	}
	mustT(t, db.Check())
}

// TestSlotSearchFailureChangesNothing: a search for empty slots that
// fails part way through an address page (a slot of a page checked
// before goes bad in the file) keeps nothing of what it found, so no slot
// is handed out twice when the page is searched again.
func TestSlotSearchFailureChangesNothing(t *testing.T) {
	d := diskmodel.New(diskmodel.Options{})
	db, err := OpenStorage(d, Options{})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	spp := segment.SlotsPerPage
	ids := insertN(t, db, "s", 2*spp, func(i int) []byte { return []byte("r") })
	empty := spp + 200
	mustT(t, db.Update(func(tx *Tx) error { return tx.Delete("s", ids[empty]) }))
	mustT(t, db.Close())
	mustT(t, d.Reopen())
	db, err = OpenStorage(d, Options{})
	mustT(t, err)
	defer db.Close()

	// A read checks the second address page whole; then slot 100 of it
	// goes bad in the file: a page with version 0 is no valid slot.
	mustT(t, db.View(func(s *Snapshot) error { _, err := s.Read("s", ids[spp]); return err }))
	db.mu.Lock()
	ptr := db.cur.seg("s").pages[1].disk.ptr
	db.mu.Unlock()
	mustT(t, d.WriteAt(make([]byte, 4), ptr.Addr+page.HeaderSize+16+100*16+8))

	taken := map[RecordID]bool{}
	var open []*Tx
	defer func() {
		for _, tx := range open {
			_ = tx.Rollback()
		}
	}()
	var ce *CorruptError
	for range 4 {
		tx, err := db.Begin(TxOptions{})
		mustT(t, err)
		open = append(open, tx)
		id, err := tx.Insert("s", []byte("new"))
		if err != nil {
			if !errors.As(err, &ce) {
				t.Fatalf("insert: %v, want the corrupt page", err)
			}
			continue
		}
		if taken[id] {
			t.Fatalf("slot %v handed out to two open transactions", id)
		}
		taken[id] = true
	}
}

// TestInsertAfterOpenSearchesFewPages: the first insert into a segment
// with no empty slot, after an open, searches a few of its address pages,
// not all of them, and takes a slot never used.
func TestInsertAfterOpenSearchesFewPages(t *testing.T) {
	d := diskmodel.New(diskmodel.Options{})
	db, err := OpenStorage(d, Options{})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	n := 4 * searchPages * segment.SlotsPerPage
	insertN(t, db, "s", n, func(i int) []byte { return []byte("r") })
	mustT(t, db.Close())
	mustT(t, d.Reopen())
	db, err = OpenStorage(d, Options{})
	mustT(t, err)
	defer db.Close()
	got := insertN(t, db, "s", 1, func(int) []byte { return []byte("new") })
	if want := idOfSlot(uint64(n)); got[0] != want {
		t.Fatalf("the insert took %v, want %v", got[0], want)
	}
	db.mu.Lock()
	a := db.slots[db.cur.seg("s").id]
	scanned := a.scan
	db.mu.Unlock()
	if scanned > searchPages {
		t.Fatalf("the insert searched %d address pages of %d, want %d at most", scanned, 4*searchPages, searchPages)
	}
}
