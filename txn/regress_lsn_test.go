package txn

import (
	"fmt"
	"testing"

	"github.com/gopersy/persy/mmapfile"
)

// TestLSNsGoOnAfterATrimmedJournal protects against a journal, trimmed
// empty by a checkpoint, restarting its LSNs from zero on reopen: commits
// after that would sort before the checkpoint and recovery would skip
// them.
func TestLSNsGoOnAfterATrimmedJournal(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	db, err := OpenStorage(m, Options{ManualSync: true})
	mustT(t, err)
	var id RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateSegment("s"); err != nil {
			return err
		}
		id, err = tx.Insert("s", []byte("v1"))
		return err
	}))
	mustT(t, db.Checkpoint())
	// Reopen without closing, as after a crash: the storage stays.
	for i := 2; i <= 4; i++ {
		db2, err := Recover(m, Options{ManualSync: true})
		mustT(t, err)
		db, err = db2.Finish()
		mustT(t, err)
		mustT(t, db.View(func(s *Snapshot) error {
			got, err := s.Read("s", id)
			if err != nil || string(got) != fmt.Sprintf("v%d", i-1) {
				return fmt.Errorf("reopen %d: %q, %v", i, got, err)
			}
			return nil
		}))
		mustT(t, db.Update(func(tx *Tx) error { return tx.Update("s", id, []byte(fmt.Sprintf("v%d", i))) }))
	}
}
