package txn

import (
	"errors"
	"testing"

	"github.com/gopersy/persy/internal/invariant"
	"github.com/gopersy/persy/mmapfile"
)

// violates runs fn, which breaks an invariant: under the invariants build
// tag it must panic with ErrInternal; in the default build it must
// return ErrInternal instead. Either way it returns the error.
func violates(t *testing.T, fn func() error) (err error) {
	t.Helper()
	defer func() {
		r := recover()
		if invariant.Enabled {
			e, ok := r.(error)
			if !ok || !errors.Is(e, ErrInternal) {
				t.Fatalf("invariants build: panic %v, want one wrapping ErrInternal", r)
			}
			err = e
			return
		}
		if r != nil {
			panic(r)
		}
		if !errors.Is(err, ErrInternal) {
			t.Fatalf("default build: %v, want ErrInternal", err)
		}
	}()
	return fn()
}

// TestInvariantLockReleasedNotHeld: releasing a lock nobody holds, or
// holds otherwise, is caught and stops the database.
func TestInvariantLockReleasedNotHeld(t *testing.T) {
	db, err := OpenMemory(Options{})
	mustT(t, err)
	defer db.Close()
	violates(t, func() error { return db.locks.release([]lockReq{{key: "never taken"}}) })
	mustT(t, db.locks.acquire([]lockReq{{key: "k"}}, -1))
	violates(t, func() error { return db.locks.release([]lockReq{{key: "k", exclusive: true}}) })
	if invariant.Enabled {
		return
	}
	db.releaseLocks([]lockReq{{key: "never taken"}})
	if _, err := db.Begin(TxOptions{}); !errors.Is(err, ErrInternal) {
		t.Fatalf("Begin after a broken lock invariant: %v, want ErrInternal", err)
	}
}

// TestInvariantSlotHandedOutOccupied: a slot allocator that offers a
// slot a committed record holds is caught before the insert overwrites
// the record, and stops the database.
func TestInvariantSlotHandedOutOccupied(t *testing.T) {
	db, err := OpenMemory(Options{})
	mustT(t, err)
	defer db.Close()
	var id RecordID
	mustT(t, db.Update(func(tx *Tx) error {
		mustT(t, tx.CreateSegment("s"))
		id, err = tx.Insert("s", []byte("kept"))
		return err
	}))
	n, _ := id.slot()
	seg := db.cur.seg("s")
	db.mu.Lock()
	db.slots[seg.id].free = append(db.slots[seg.id].free, n) // the bug
	db.mu.Unlock()
	tx, err := db.Begin(TxOptions{})
	mustT(t, err)
	violates(t, func() error { _, err := tx.Insert("s", []byte("over it")); return err })
	if invariant.Enabled {
		return
	}
	if _, err := db.Begin(TxOptions{}); !errors.Is(err, ErrInternal) {
		t.Fatalf("Begin after a broken slot invariant: %v, want ErrInternal", err)
	}
}

// TestInvariantCheckpointFreesAKeptPage: a checkpoint that would free a
// page its own catalogue still names is caught before the catalogue is
// written, and stops the database.
func TestInvariantCheckpointFreesAKeptPage(t *testing.T) {
	db, err := OpenMemory(Options{ManualSync: true})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error {
		mustT(t, tx.CreateSegment("s"))
		_, err := tx.Insert("s", []byte("kept"))
		return err
	}))
	mustT(t, db.Checkpoint())
	seg := db.cur.seg("s")
	if len(db.disk[seg.id]) == 0 {
		t.Fatal("no address page on disk after a checkpoint")
	}
	// A commit elsewhere, so that the next checkpoint has work to do.
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("t") }))
	db.wmu.Lock()
	// The bug: the segment's address page listed as superseded.
	db.superseded = append(db.superseded, retainedPage{ref: db.disk[seg.id][0].Ref})
	db.wmu.Unlock()
	violates(t, db.Checkpoint)
	if invariant.Enabled {
		return // the panic left the writer's lock held: no Close
	}
	if _, err := db.Begin(TxOptions{}); !errors.Is(err, ErrInternal) {
		t.Fatalf("Begin after a broken checkpoint invariant: %v, want ErrInternal", err)
	}
	db.Close()
}

// publishingStorage publishes a version behind the writer's back at each
// write and barrier once armed: what a commit path that bypassed the writer's lock
// would do.
type publishingStorage struct {
	mmapfile.Storage
	db    *DB
	armed bool
}

func (p *publishingStorage) barrier() {
	if !p.armed {
		return
	}
	p.db.mu.Lock()
	p.db.cur = &version{seq: p.db.cur.seq + 1, segs: p.db.cur.segs}
	p.db.mu.Unlock()
}

func (p *publishingStorage) SyncRange(off, n int64) error {
	p.barrier()
	return p.Storage.SyncRange(off, n)
}

func (p *publishingStorage) WriteAt(b []byte, off int64) error {
	p.barrier()
	return p.Storage.WriteAt(b, off)
}

func (p *publishingStorage) Sync() error {
	p.barrier()
	return p.Storage.Sync()
}

// TestInvariantVersionUpByOne: a commit that would publish its version
// over one published since its batch began, and a checkpoint that would
// publish over a version newer than the one it wrote, are caught, and
// stop the database.
func TestInvariantVersionUpByOne(t *testing.T) {
	for _, path := range []string{"commit", "checkpoint"} {
		t.Run(path, func(t *testing.T) {
			m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
			mustT(t, err)
			ps := &publishingStorage{Storage: m}
			db, err := OpenStorage(ps, Options{ManualSync: true})
			mustT(t, err)
			ps.db = db
			mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
			ps.armed = true
			if path == "commit" {
				violates(t, func() error {
					return db.Update(func(tx *Tx) error { _, err := tx.Insert("s", []byte("r")); return err })
				})
			} else {
				violates(t, db.Checkpoint)
			}
			if invariant.Enabled {
				return // the panic left locks held: no Close
			}
			ps.armed = false
			if _, err := db.Begin(TxOptions{}); !errors.Is(err, ErrInternal) {
				t.Fatalf("Begin after a broken version invariant: %v, want ErrInternal", err)
			}
			db.Close()
		})
	}
}
