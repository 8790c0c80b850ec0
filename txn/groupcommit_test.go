package txn

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopersy/persy/mmapfile"
)

// countingStorage counts barriers.
type countingStorage struct {
	mmapfile.Storage
	barriers atomic.Int64
}

func (c *countingStorage) SyncRange(off, n int64) error {
	c.barriers.Add(1)
	return c.Storage.SyncRange(off, n)
}

func (c *countingStorage) Sync() error {
	c.barriers.Add(1)
	return c.Storage.Sync()
}

// TestGroupCommitSharesBarriers queues eight commits behind a leader and
// checks that they reach the journal together: far fewer barriers than
// commits.
func TestGroupCommitSharesBarriers(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	mustT(t, err)
	cs := &countingStorage{Storage: m}
	db, err := OpenStorage(cs, Options{ManualSync: true})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	const writers = 8
	db.wmu.Lock() // the leader waits here until every commit is queued
	before := cs.barriers.Load()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- db.Update(func(tx *Tx) error {
				_, err := tx.Insert("s", fmt.Appendf(nil, "writer %d", i))
				return err
			})
		}()
	}
	for {
		db.mu.Lock()
		queued := len(db.queue)
		db.mu.Unlock()
		if queued == writers-1 { // the leader took its own and waits
			break
		}
		time.Sleep(time.Millisecond)
	}
	db.wmu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		mustT(t, err)
	}
	if n := cs.barriers.Load() - before; n > 3 {
		t.Fatalf("%d commits took %d barriers", writers, n)
	}
	mustT(t, db.View(func(s *Snapshot) error {
		n := 0
		for _, err := range s.Scan("s") {
			if err != nil {
				return err
			}
			n++
		}
		if n != writers {
			return fmt.Errorf("%d records, want %d", n, writers)
		}
		return nil
	}))
}

// TestBackgroundSyncOnAFile commits in background on a real file with the
// background worker running; Close makes everything durable.
func TestBackgroundSyncOnAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := OpenOrCreate(path, Options{}, func(tx *Tx) error { return tx.CreateSegment("s") })
	mustT(t, err)
	var ids []RecordID
	for i := range 50 {
		tx, err := db.Begin(TxOptions{BackgroundSync: true})
		mustT(t, err)
		id, err := tx.Insert("s", fmt.Appendf(nil, "bg %d", i))
		mustT(t, err)
		mustT(t, tx.Commit())
		ids = append(ids, id)
	}
	mustT(t, db.Sync())
	mustT(t, db.Close())
	db, err = Open(path, Options{})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.View(func(s *Snapshot) error {
		for i, id := range ids {
			got, err := s.Read("s", id)
			if err != nil || string(got) != fmt.Sprintf("bg %d", i) {
				return fmt.Errorf("record %d: %q, %v", i, got, err)
			}
		}
		return nil
	}))
	mustT(t, db.Check())
}
