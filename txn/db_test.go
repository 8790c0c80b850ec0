package txn

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// createWith creates segment seg and inserts n records into it, record i
// holding value(i), in one commit, and returns their ids.
func createWith(t *testing.T, db *DB, seg string, n int, value func(i int) []byte) []RecordID {
	t.Helper()
	var ids []RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateSegment(seg); err != nil {
			return err
		}
		for i := range n {
			id, err := tx.Insert(seg, value(i))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	}))
	return ids
}

func scanAll(t *testing.T, seq func(func(Record, error) bool)) map[RecordID]string {
	t.Helper()
	out := map[RecordID]string{}
	var last RecordID
	for r, err := range seq {
		mustT(t, err)
		if len(out) > 0 && (r.ID.Page < last.Page || r.ID.Page == last.Page && r.ID.Pos <= last.Pos) {
			t.Fatalf("scan out of order: %v after %v", r.ID, last)
		}
		last = r.ID
		out[r.ID] = string(r.Data)
	}
	return out
}

func TestRecordsLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	mustT(t, Create(path))
	db, err := Open(path, Options{})
	mustT(t, err)
	var ids []RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateSegment("s"); err != nil {
			return err
		}
		for i := range 600 {
			id, err := tx.Insert("s", []byte(fmt.Sprintf("rec %d", i)))
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		// Its own inserts are visible to it.
		got, err := tx.Read("s", ids[7])
		if err != nil || string(got) != "rec 7" {
			return fmt.Errorf("read own insert: %q, %v", got, err)
		}
		return nil
	}))
	snap, err := db.Snapshot()
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.Update("s", ids[1], []byte("changed")); err != nil {
			return err
		}
		return tx.Delete("s", ids[2])
	}))
	mustT(t, db.Checkpoint())
	mustT(t, db.Check())
	// The snapshot sees the state at its creation.
	got, err := snap.Read("s", ids[1])
	if err != nil || string(got) != "rec 1" {
		t.Fatalf("snapshot read %q, %v", got, err)
	}
	if n := len(scanAll(t, snap.Scan("s"))); n != 600 {
		t.Fatalf("snapshot scan: %d records", n)
	}
	snap.Close()
	if _, err := snap.Read("s", ids[1]); !errors.Is(err, ErrClosed) {
		t.Fatalf("read of a closed snapshot: %v", err)
	}
	mustT(t, db.Close())

	db, err = Open(path, Options{})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.View(func(s *Snapshot) error {
		all := scanAll(t, s.Scan("s"))
		if len(all) != 599 || all[ids[1]] != "changed" || all[ids[0]] != "rec 0" {
			return fmt.Errorf("after reopen: %d records, %q", len(all), all[ids[1]])
		}
		if _, err := s.Read("s", ids[2]); !errors.Is(err, ErrRecordNotFound) {
			return fmt.Errorf("deleted record: %v", err)
		}
		return nil
	}))
	mustT(t, db.Check())
}

func TestPrepareRecoverDecide(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	var ids [2]RecordID
	for i, name := range []string{"a", "b"} {
		tx, err := db.Begin(TxOptions{ID: []byte("xa-" + name)})
		mustT(t, err)
		ids[i], err = tx.Insert("s", []byte(name))
		mustT(t, err)
		_, err = tx.Prepare()
		mustT(t, err)
	}
	// The process ends with both prepared and undecided.
	mustT(t, db.Close())
	rec, err := OpenRecover(path, Options{})
	mustT(t, err)
	var prepared []string
	for _, tx := range rec.Transactions() {
		if tx.Status == StatusPrepared {
			prepared = append(prepared, string(tx.ID))
		}
	}
	if !slices.Equal(prepared, []string{"xa-a", "xa-b"}) {
		t.Fatalf("prepared: %q", prepared)
	}
	mustT(t, rec.Rollback([]byte("xa-a")))
	mustT(t, rec.Commit([]byte("xa-b")))
	if err := rec.Commit([]byte("xa-c")); !errors.Is(err, ErrUnknownTransaction) {
		t.Fatalf("unknown id: %v", err)
	}
	db, err = rec.Finish()
	mustT(t, err)
	mustT(t, db.View(func(s *Snapshot) error {
		if _, err := s.Read("s", ids[0]); !errors.Is(err, ErrRecordNotFound) {
			return fmt.Errorf("rolled back: %v", err)
		}
		if got, err := s.Read("s", ids[1]); err != nil || string(got) != "b" {
			return fmt.Errorf("committed: %q %v", got, err)
		}
		return nil
	}))
	mustT(t, db.Check())
	mustT(t, db.Close())
	// Recovering again finds nothing to decide.
	rec, err = OpenRecover(path, Options{})
	mustT(t, err)
	for _, tx := range rec.Transactions() {
		if tx.Status == StatusPrepared {
			t.Fatalf("still prepared after recovery: %q", tx.ID)
		}
	}
	db, err = rec.Finish()
	mustT(t, err)
	mustT(t, db.Close())
}

func TestLimitsAndMisuse(t *testing.T) {
	db, err := OpenMemory(Options{LockTimeout: -1})
	mustT(t, err)
	defer db.Close()
	if _, err := db.Begin(TxOptions{ID: make([]byte, MaxTxIDBytes+1)}); !errors.Is(err, ErrTxIDTooLong) {
		t.Fatalf("long id: %v", err)
	}
	_, err = db.Begin(TxOptions{ID: make([]byte, MaxTxIDBytes)})
	mustT(t, err)
	tx, err := db.Begin(TxOptions{})
	mustT(t, err)
	mustT(t, tx.CreateSegment("s"))
	if _, err := tx.Insert("s", make([]byte, MaxRecordBytes+1)); !errors.Is(err, ErrRecordTooBig) {
		t.Fatalf("big record: %v", err)
	}
	big, err := tx.Insert("s", bytes.Repeat([]byte{7}, MaxRecordBytes))
	mustT(t, err)
	mustT(t, tx.Commit())
	if _, err := tx.Insert("s", nil); !errors.Is(err, ErrTxDone) {
		t.Fatalf("insert after commit: %v", err)
	}
	if err := tx.Commit(); !errors.Is(err, ErrTxDone) {
		t.Fatalf("second commit: %v", err)
	}
	mustT(t, db.Checkpoint())
	mustT(t, db.View(func(s *Snapshot) error {
		got, err := s.Read("s", big)
		if err != nil || len(got) != MaxRecordBytes {
			return fmt.Errorf("big record: %d bytes, %v", len(got), err)
		}
		return nil
	}))
	mustT(t, db.Check())
}

func TestConcurrentCreateSegment(t *testing.T) {
	db, err := OpenMemory(Options{LockTimeout: -1})
	mustT(t, err)
	defer db.Close()
	a, _ := db.Begin(TxOptions{})
	b, _ := db.Begin(TxOptions{})
	mustT(t, a.CreateSegment("s"))
	mustT(t, b.CreateSegment("s"))
	pa, err := a.Prepare()
	mustT(t, err)
	if _, err := b.Prepare(); !errors.Is(err, ErrSegmentExists) {
		t.Fatalf("second create while the first is prepared: %v", err)
	}
	mustT(t, pa.Commit())
	c, _ := db.Begin(TxOptions{})
	if err := c.CreateSegment("s"); !errors.Is(err, ErrSegmentExists) {
		t.Fatalf("create after commit: %v", err)
	}
}

func TestVersionStrategies(t *testing.T) {
	db, err := OpenMemory(Options{LockTimeout: -1})
	mustT(t, err)
	defer db.Close()
	var id RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		tx.CreateSegment("s")
		id, err = tx.Insert("s", []byte("v0"))
		return err
	}))
	for _, st := range []Strategy{LastWin, VersionOnWrite, VersionOnRead} {
		a, _ := db.Begin(TxOptions{Strategy: st})
		if _, err := a.Read("s", id); err != nil {
			t.Fatal(err)
		}
		if st != VersionOnRead {
			mustT(t, a.Update("s", id, []byte("a")))
		} else {
			a.CreateSegment(fmt.Sprint("other", st))
		}
		mustT(t, db.Update(func(tx *Tx) error { return tx.Update("s", id, []byte("b")) }))
		err := a.Commit()
		if want := st != LastWin; errors.Is(err, ErrVersionNotLatest) != want {
			t.Fatalf("strategy %d: commit after a concurrent update: %v", st, err)
		}
	}
}

// TestPlanLocksInKeyOrder: a prepare takes its locks in key order, each
// key once, the records it writes exclusive and those it only read
// shared, however the records written, the records read, the segments
// and the names interleave.
func TestPlanLocksInKeyOrder(t *testing.T) {
	db, err := OpenMemory(Options{})
	mustT(t, err)
	defer db.Close()
	var ids []RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		for _, s := range []string{"a", "b"} {
			if err := tx.CreateSegment(s); err != nil {
				return err
			}
			for i := range 300 {
				id, err := tx.Insert(s, []byte{byte(i)})
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
		}
		return tx.CreateSegment("gone")
	}))
	tx, err := db.Begin(TxOptions{Strategy: VersionOnRead})
	mustT(t, err)
	defer tx.Rollback()
	writes := map[string]bool{}
	for i := 0; i < 300; i += 7 {
		for j, s := range []string{"b", "a"} {
			id := ids[j*300+i]
			if _, err := tx.Read(s, id); err != nil {
				t.Fatal(err)
			}
			if i%3 != 0 {
				mustT(t, tx.Update(s, id, []byte("new")))
			}
		}
	}
	mustT(t, tx.CreateSegment("c"))
	mustT(t, tx.DropSegment("gone"))
	_, err = tx.Insert("a", []byte("inserted"))
	mustT(t, err)
	for k := range tx.writes {
		writes[recLockKey(k)] = true
	}
	_, locks := tx.plan()
	records := 0
	for i, l := range locks {
		if i > 0 && locks[i-1].key >= l.key {
			t.Fatalf("lock %d %q after %q: not in key order, or twice", i, l.key, locks[i-1].key)
		}
		if l.key[0] != 'r' {
			continue
		}
		records++
		if l.exclusive != writes[l.key] {
			t.Errorf("record lock %q: exclusive %v, written %v", l.key, l.exclusive, writes[l.key])
		}
	}
	// 43 records read in each segment, 29 of them updated, and one insert.
	if want := 2*43 + 1; records != want {
		t.Errorf("%d record locks, want %d", records, want)
	}
}
