package txn

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gopersy/persy/index"
	"github.com/gopersy/persy/journal"
)

func i64(k int64) []byte { return index.AppendInt(nil, k, 8) }

// TestIndexCorruptNode: a node whose bytes are wrong is a *CorruptError
// on every read and in Check, never a panic or a wrong answer.
func TestIndexCorruptNode(t *testing.T) {
	db, err := OpenMemory(Options{ManualSync: true, IndexNodeBytes: 128})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateIndex("i", index.I64, index.I64, Replace); err != nil {
			return err
		}
		for k := range int64(100) {
			if err := tx.IndexPut("i", index.I64, index.I64, i64(k), i64(k)); err != nil {
				return err
			}
		}
		return nil
	}))
	// Write a leaf whose value is not 8 bytes, as a record update would.
	mustT(t, db.Update(func(tx *Tx) error {
		id, _, err := tx.anySegID(indexPrefix + "i")
		if err != nil {
			return err
		}
		_, _, d, err := tx.indexDef("i")
		if err != nil {
			return err
		}
		leaf := fmt.Appendf(nil, "\x01\x01\x08%s\x02xx", strings.Repeat("\x00", 8))
		for n := range uint64(200) {
			if w, _, _, err := tx.lookupIn(id, true, n); err == nil && n != 0 && n != d.Root {
				tx.writes[w] = &txWrite{kind: journal.KindUpdate, data: leaf}
				return nil
			}
		}
		return fmt.Errorf("no leaf found")
	}))
	s, err := db.Snapshot()
	mustT(t, err)
	defer s.Close()
	iv, err := s.IndexView("i", index.I64, index.I64)
	mustT(t, err)
	defer iv.Close()
	err = iv.Range(index.Bound{}, index.Bound{}, false, func([]byte, [][]byte) bool { return true })
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("a range over a corrupt node: %v", err)
	}
	if err := db.Check(); !errors.As(err, &ce) {
		t.Fatalf("Check of a corrupt node: %v", err)
	}
}

// findOrphanSep builds an index of mode int64 -> int64 and removes the
// key of a separator of the root, returning that separator: its key is
// absent, and a put of it lands left or right of it by its value.
func findOrphanSep(t *testing.T, db *DB, mode Mode) index.Pair {
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateIndex("i", index.I64, index.I64, mode); err != nil {
			return err
		}
		for k := range int64(300) {
			if err := tx.IndexPut("i", index.I64, index.I64, i64(k*10), i64(100)); err != nil {
				return err
			}
		}
		return nil
	}))
	db.mu.Lock()
	src, root, err := versionTree(db, db.cur, "i")
	db.mu.Unlock()
	mustT(t, err)
	n, err := src.Node(root)
	mustT(t, err)
	for !n.Leaf {
		sep := n.Seps[0]
		mustT(t, db.Update(func(tx *Tx) error { return tx.IndexRemove("i", index.I64, index.I64, sep.Key) }))
		db.mu.Lock()
		src, root, err = versionTree(db, db.cur, "i")
		db.mu.Unlock()
		mustT(t, err)
		n2, err := src.Node(root)
		mustT(t, err)
		if len(n2.Seps) > 0 && bytes.Equal(n2.Seps[0].Key, sep.Key) {
			return sep
		}
		n = n2
	}
	t.Fatal("no separator")
	return index.Pair{}
}

// staleEdit prepares first (holding its key locks), lets second plan its
// edit on the tree without first's change, commits first, and returns
// what second's validation says of its stale edit, then commits second.
func staleEdit(t *testing.T, db *DB, first, second func(tx *Tx) error) (validated, committed error) {
	t.Helper()
	a, err := db.Begin(TxOptions{})
	mustT(t, err)
	mustT(t, first(a))
	pa, err := a.Prepare()
	mustT(t, err)
	b, err := db.Begin(TxOptions{})
	mustT(t, err)
	mustT(t, second(b))
	mustT(t, b.planIndexes())
	mustT(t, pa.Commit())
	_, locks := b.plan()
	mustT(t, db.locks.acquire(locks, -1))
	validated = b.validate()
	db.locks.release(locks)
	return validated, b.Commit()
}

func valuesOf(t *testing.T, db *DB, key []byte) [][]byte {
	t.Helper()
	s, err := db.Snapshot()
	mustT(t, err)
	defer s.Close()
	iv, err := s.IndexView("i", index.I64, index.I64)
	mustT(t, err)
	defer iv.Close()
	vals, err := iv.Values(key)
	mustT(t, err)
	return vals
}

// TestIndexPrepareSeesKeysChangedSincePlanning: a prepare that planned
// its edit before another transaction's change of the same key committed
// edits again, whatever the strategy, even where that change wrote no
// node its edit writes: a put of a key whose pair lands in another leaf
// (two values on a Replace key, a duplicate missed under Exclusive), or
// a remove planned on an empty tree, which writes nothing at all.
func TestIndexPrepareSeesKeysChangedSincePlanning(t *testing.T) {
	for _, mode := range []Mode{Replace, Exclusive} {
		db, err := OpenMemory(Options{ManualSync: true, IndexNodeBytes: 128, LockTimeout: -1})
		mustT(t, err)
		sep := findOrphanSep(t, db, mode)
		validated, committed := staleEdit(t, db,
			func(tx *Tx) error { return tx.IndexPut("i", index.I64, index.I64, sep.Key, i64(1)) },   // left of the separator
			func(tx *Tx) error { return tx.IndexPut("i", index.I64, index.I64, sep.Key, i64(999)) }) // right of it
		if validated != errRetry {
			t.Errorf("%v: a stale edit validated with %v, want a retry", mode, validated)
		}
		vals := valuesOf(t, db, sep.Key)
		switch {
		case mode == Replace && (committed != nil || len(vals) != 1 || !bytes.Equal(vals[0], i64(999))):
			t.Errorf("Replace: the later put: %v, and the key holds %x", committed, vals)
		case mode == Exclusive && (!errors.Is(committed, ErrDuplicateKey) || len(vals) != 1):
			t.Errorf("Exclusive: the second value: %v, and the key holds %x", committed, vals)
		}
		mustT(t, db.Check())
		mustT(t, db.Close())
	}
	db, err := OpenMemory(Options{ManualSync: true, LockTimeout: -1})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateIndex("i", index.I64, index.I64, Replace) }))
	validated, committed := staleEdit(t, db,
		func(tx *Tx) error { return tx.IndexPut("i", index.I64, index.I64, i64(7), i64(1)) },
		func(tx *Tx) error { return tx.IndexRemove("i", index.I64, index.I64, i64(7)) })
	if validated != errRetry || committed != nil {
		t.Errorf("a remove planned on the empty tree: validated %v, committed %v", validated, committed)
	}
	if vals := valuesOf(t, db, i64(7)); len(vals) != 0 {
		t.Errorf("key 7 holds %x after a remove committed after its put", vals)
	}
}
