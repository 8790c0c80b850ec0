package txn

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

// TestPackLifecycle: small records a checkpoint writes share packs; a
// pack stays while one of its records does, and a snapshot that reads
// it keeps it after the last one leaves; once neither does, the next
// checkpoint frees it. Check, which counts every page of the file once,
// finds the file whole at every step, and every record reads back as
// last written, through the current version and through the snapshot.
func TestPackLifecycle(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	db, err := OpenStorage(m, Options{ManualSync: true})
	mustT(t, err)
	defer db.Close()
	value := func(i int) []byte { return fmt.Appendf(nil, "%0100d", i) }
	ids := createWith(t, db, "s", 8, value)
	want := map[RecordID]string{}
	for i, id := range ids {
		want[id] = string(value(i))
	}
	mustT(t, db.Checkpoint())
	packOf := func(id RecordID) page.Ptr {
		t.Helper()
		db.mu.Lock()
		v := db.cur
		db.mu.Unlock()
		n, _ := id.slot()
		sl, ok, err := db.slot(v.seg("s"), n)
		if err != nil || !ok || sl.Entry == 0 {
			t.Fatalf("record %v: slot %+v, %v, %v; want an entry of a pack", id, sl, ok, err)
		}
		return sl.Data
	}
	// 100-byte records: four a pack.
	first := packOf(ids[0])
	for i, id := range ids {
		if same := packOf(id) == first; same != (i < 4) {
			t.Fatalf("record %d in pack %d, the first record's %d", i, packOf(id).Addr, first.Addr)
		}
	}
	check := func(step string, snap *Snapshot, snapWant map[RecordID]string) {
		t.Helper()
		if err := db.Check(); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		mustT(t, db.View(func(s *Snapshot) error {
			if got := scanAll(t, s.Scan("s")); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: the segment reads %v, want %v", step, got, want)
			}
			return nil
		}))
		if snap != nil {
			for id, v := range snapWant {
				got, err := snap.Read("s", id)
				if err != nil || !bytes.Equal(got, []byte(v)) {
					t.Fatalf("%s: the snapshot reads record %v as %q, %v; want %q", step, id, got, err, v)
				}
			}
		}
	}
	freePages := func() int64 {
		st, err := db.Stats()
		mustT(t, err)
		return pageCount(st, "free").Pages + pageCount(st, "limbo").Pages
	}
	update := func(id RecordID, v string) {
		mustT(t, db.Update(func(tx *Tx) error { return tx.Update("s", id, []byte(v)) }))
		want[id] = v
	}
	// Three of the first pack's records leave it: the fourth still reads
	// it, so it stays.
	for _, id := range ids[:3] {
		update(id, "moved "+want[id])
	}
	mustT(t, db.Checkpoint())
	check("three of four left", nil, nil)
	if packOf(ids[3]) != first {
		t.Fatal("the record left in the first pack moved")
	}
	snapWant := map[RecordID]string{}
	for id, v := range want {
		snapWant[id] = v
	}
	snap, err := db.Snapshot()
	mustT(t, err)
	// The last one leaves by a delete; the snapshot still reads it.
	mustT(t, db.Update(func(tx *Tx) error { return tx.Delete("s", ids[3]) }))
	delete(want, ids[3])
	mustT(t, db.Checkpoint())
	check("the last one deleted, a snapshot open", snap, snapWant)
	held := freePages()
	mustT(t, snap.Close())
	mustT(t, db.Checkpoint())
	mustT(t, db.Checkpoint())
	check("the snapshot closed", nil, nil)
	if freed := freePages(); freed <= held {
		t.Fatalf("%d free pages with the snapshot open, %d once closed: the emptied pack was not freed", held, freed)
	}
	// Dropping the segment leaves every pack: Check finds each freed
	// once, none twice.
	mustT(t, db.Update(func(tx *Tx) error { return tx.DropSegment("s") }))
	mustT(t, db.Checkpoint())
	mustT(t, db.Check())
}

// TestCorruptPackKept: a pack every record left, which fails its checks
// when the checkpoint reads it to see whether a slot still reads it, is
// kept, not freed, and logged: the checkpoint and later commits go on,
// and Check reports the page.
func TestCorruptPackKept(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	var log bytes.Buffer
	db, err := OpenStorage(m, Options{ManualSync: true, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	mustT(t, err)
	defer db.Close()
	ids := createWith(t, db, "s", 3, func(int) []byte { return make([]byte, 100) })
	mustT(t, db.Checkpoint())
	n, _ := ids[0].slot()
	sl, _, err := db.slot(db.cur.seg("s"), n)
	mustT(t, err)
	if sl.Entry == 0 {
		t.Fatal("three records of 100 bytes in no pack")
	}
	mustT(t, db.Update(func(tx *Tx) error {
		for _, id := range ids {
			if err := tx.Update("s", id, []byte("moved")); err != nil {
				return err
			}
		}
		return nil
	}))
	b := m.Bytes(sl.Data.Addr+page.HeaderSize, 1)
	mustT(t, m.WriteAt([]byte{b[0] ^ 1}, sl.Data.Addr+page.HeaderSize))
	mustT(t, db.Checkpoint())
	mustT(t, db.Update(func(tx *Tx) error { return tx.Update("s", ids[1], []byte("again")) }))
	mustT(t, db.Checkpoint())
	mustT(t, db.View(func(s *Snapshot) error {
		got, err := s.Read("s", ids[1])
		if err != nil || string(got) != "again" {
			t.Fatalf("record reads %q, %v", got, err)
		}
		return nil
	}))
	var ce *page.CorruptError
	if err := db.Check(); !errors.As(err, &ce) || ce.Page != sl.Data.Addr {
		t.Fatalf("Check with a corrupt pack kept: %v", err)
	}
	if want := fmt.Sprintf("it is kept, unread\" page=%d", sl.Data.Addr); !strings.Contains(log.String(), want) {
		t.Fatalf("the log lacks %q:\n%s", want, log.String())
	}
}
