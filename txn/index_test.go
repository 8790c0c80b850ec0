package txn

import (
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
