package txn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"

	"github.com/gopersy/persy/sim/diskmodel"
)

// TestFullSimulatedDisk is TestFullDisk on the simulated disk's enospc
// profile, where every growth fails once the disk is full: runnable
// anywhere, and with a crash taken while the disk is full.
func TestFullSimulatedDisk(t *testing.T) {
	full := false
	d := diskmodel.New(diskmodel.Options{Profile: diskmodel.NoSpace, Chooser: diskmodel.Func(func(label string, n int) int {
		if label == "enospc" && full {
			return n - 1
		}
		return 0
	})})
	db, err := OpenStorage(d, Options{ManualSync: true})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	// A segment to drop on the full disk.
	mustT(t, db.Update(func(tx *Tx) error {
		if err := tx.CreateSegment("t"); err != nil {
			return err
		}
		for i := range 10 {
			if _, err := tx.Insert("t", []byte(fmt.Sprintf("%02000d", i))); err != nil {
				return err
			}
		}
		return nil
	}))
	acked := map[RecordID]string{}
	var failed error
	// Until three inserts in a row fail: an insert that finds no room
	// checkpoints, which frees the journal's pages for those after it.
	for i, failures := 0, 0; failures < 3; i++ {
		full = i >= 20
		v := fmt.Sprintf("%02000d", i)
		var id RecordID
		failed = db.Update(func(tx *Tx) error {
			var err error
			id, err = tx.Insert("s", []byte(v))
			return err
		})
		if failed == nil {
			acked[id] = v
			failures = 0
		} else {
			failures++
		}
		if i > 5000 {
			t.Fatal("5,000 inserts on a disk that cannot grow")
		}
	}
	if !errors.Is(failed, syscall.ENOSPC) || len(acked) < 20 {
		t.Fatalf("after %d inserts: %v, want ENOSPC once the disk is full", len(acked), failed)
	}
	mustT(t, db.Sync())
	readsAll(t, db, acked)

	// A power cut now, the disk full: everything acknowledged is there.
	img, err := d.CrashImage(diskmodel.Func(func(string, int) int { return 0 }), nil)
	mustT(t, err)
	mustT(t, db.Close())
	for _, ro := range []bool{true, false} {
		c, err := diskmodel.FromImage(img, diskmodel.Options{Profile: diskmodel.NoSpace, Chooser: diskmodel.Func(func(label string, n int) int {
			if label == "enospc" {
				return n - 1
			}
			return 0
		})})
		mustT(t, err)
		db, err := OpenStorage(c, Options{ManualSync: true, ReadOnly: ro})
		if err != nil {
			t.Fatalf("open (read-only %v) of the full disk after a crash: %v", ro, err)
		}
		readsAll(t, db, acked)
		if !ro {
			if err := db.Update(func(tx *Tx) error { _, err := tx.Insert("s", []byte(fmt.Sprintf("%02000d", -1))); return err }); !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("an insert on the full disk after the crash: %v, want ENOSPC", err)
			}
			// Deletes commit on the full disk, and their pages take
			// inserts after them.
			deleted := 0
			for id := range acked {
				if deleted == 10 {
					break
				}
				if err := db.Update(func(tx *Tx) error { return tx.Delete("s", id) }); err != nil {
					t.Fatalf("delete %d of 10 on the full disk: %v", deleted+1, err)
				}
				delete(acked, id)
				deleted++
			}
			fill := func(what string) {
				t.Helper()
				fit := 0
				for ; fit < 30; fit++ {
					v := fmt.Sprintf("%02000d", -1-len(acked))
					var id RecordID
					err := db.Update(func(tx *Tx) error { var err error; id, err = tx.Insert("s", []byte(v)); return err })
					if errors.Is(err, syscall.ENOSPC) {
						break
					}
					mustT(t, err)
					acked[id] = v
				}
				if fit < 9 || fit >= 30 {
					t.Fatalf("%s on the full disk made room for %d inserts of the same size, want 9 or 10", what, fit)
				}
			}
			fill("10 deletes")
			// So does a segment's drop.
			if err := db.Update(func(tx *Tx) error { return tx.DropSegment("t") }); err != nil {
				t.Fatalf("a drop on the full disk: %v", err)
			}
			fill("the drop of a segment of 10 records")
			readsAll(t, db, acked)
			mustT(t, db.Check())
		}
		mustT(t, db.Close())
	}
}

// readsAll checks db holds exactly want in segment s.
func readsAll(t *testing.T, db *DB, want map[RecordID]string) {
	t.Helper()
	mustT(t, db.View(func(s *Snapshot) error {
		got := scanAll(t, s.Scan("s"))
		if len(got) != len(want) {
			return fmt.Errorf("%d records read, %d acknowledged", len(got), len(want))
		}
		for id, v := range want {
			if got[id] != v {
				return fmt.Errorf("record %v reads %d bytes, not what was acknowledged", id, len(got[id]))
			}
		}
		return nil
	}))
}

// fillingDisk returns a simulated disk whose every growth fails with
// ENOSPC once *full is set.
func fillingDisk(full *bool) *diskmodel.Disk {
	return diskmodel.New(diskmodel.Options{Profile: diskmodel.NoSpace, Chooser: diskmodel.Func(func(label string, n int) int {
		if label == "enospc" && *full {
			return n - 1
		}
		return 0
	})})
}

// TestFullDiskNeverStops: inserts, updates and deletes of records of
// every size, in transactions of one to four changes, with checkpoints
// of every size, on a disk that becomes full at some point: every commit
// either succeeds or fails with ENOSPC, and the database is never
// stopped; after it all, it recovers every acknowledged commit.
func TestFullDiskNeverStops(t *testing.T) {
	for seed := range uint64(24) {
		rng := rand.New(rand.NewPCG(seed, 1))
		full := false
		d := fillingDisk(&full)
		db, err := OpenStorage(d, Options{ManualSync: true, CheckpointBytes: 1 << (14 + rng.IntN(6))})
		mustT(t, err)
		mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
		acked := map[RecordID]string{}
		var ids []RecordID
		fullAt := 20 + rng.IntN(300)
		for i := 0; i < 600; i++ {
			full = i >= fullAt
			changes := map[RecordID]*string{}
			var added []RecordID
			err := db.Update(func(tx *Tx) error {
				clear(changes)
				added = added[:0]
				for range 1 + rng.IntN(4) {
					v := fmt.Sprint(i, strings.Repeat("x", rng.IntN([]int{400, 1000, 3000}[rng.IntN(3)])))
					if len(ids) > 0 && rng.IntN(3) > 0 {
						id := ids[rng.IntN(len(ids))]
						if _, live := acked[id]; !live || changes[id] != nil && *changes[id] == "" {
							continue
						}
						if rng.IntN(4) == 0 {
							if err := tx.Delete("s", id); err != nil {
								return err
							}
							changes[id] = new(string)
							continue
						}
						if err := tx.Update("s", id, []byte(v)); err != nil {
							return err
						}
						changes[id] = &v
						continue
					}
					id, err := tx.Insert("s", []byte(v))
					if err != nil {
						return err
					}
					changes[id], added = &v, append(added, id)
				}
				return nil
			})
			switch {
			case err == nil:
				for id, v := range changes {
					if *v == "" {
						delete(acked, id)
					} else {
						acked[id] = *v
					}
				}
				ids = append(ids, added...)
			case !errors.Is(err, syscall.ENOSPC):
				t.Fatalf("seed %d, commit %d (the disk full from %d): %v", seed, i, fullAt, err)
			}
			if full && rng.IntN(5) == 0 {
				if err := db.Checkpoint(); err != nil && !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("seed %d, a checkpoint on the full disk: %v", seed, err)
				}
			}
			if err := db.Sync(); err != nil {
				t.Fatalf("seed %d, commit %d (the disk full from %d): the database stopped: %v", seed, i, fullAt, err)
			}
		}
		readsAll(t, db, acked)
		img, err := d.CrashImage(diskmodel.Func(func(string, int) int { return 0 }), nil)
		mustT(t, err)
		mustT(t, db.Close())
		c, err := diskmodel.FromImage(img, diskmodel.Options{})
		mustT(t, err)
		db, err = OpenStorage(c, Options{ManualSync: true})
		mustT(t, err)
		readsAll(t, db, acked)
		mustT(t, db.Check())
		mustT(t, db.Close())
	}
}

// TestDecisionWithNoRoomStaysPrepared: a prepared transaction whose
// decision finds the disk full stays prepared, its record id still its
// own, and is decided once there is room.
func TestDecisionWithNoRoomStaysPrepared(t *testing.T) {
	full := false
	d := fillingDisk(&full)
	db, err := OpenStorage(d, Options{ManualSync: true})
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	// Transactions prepared while there is room; their decisions, one
	// journal page each, take the room left until one finds none.
	type prep struct {
		p  *Prepared
		id RecordID
	}
	var preps []prep
	for i := range 64 {
		tx, err := db.Begin(TxOptions{ID: []byte(fmt.Sprint("xa", i))})
		mustT(t, err)
		id, err := tx.Insert("s", []byte("prepared"))
		mustT(t, err)
		p, err := tx.Prepare()
		mustT(t, err)
		preps = append(preps, prep{p, id})
	}
	full = true
	acked := map[RecordID]string{}
	for failures := 0; failures < 3; {
		var id RecordID
		v := strings.Repeat("f", 2000)
		if err := db.Update(func(tx *Tx) error { var err error; id, err = tx.Insert("s", []byte(v)); return err }); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			failures++
			continue
		}
		failures = 0
		acked[id] = v
	}
	var p *Prepared
	var pid RecordID
	for _, pr := range preps {
		if err = pr.p.Commit(); err != nil {
			p, pid = pr.p, pr.id
			break
		}
		acked[pr.id] = "prepared"
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("64 decisions on the full disk: %v, want one to fail with ENOSPC", err)
	}
	full = false
	var other RecordID
	mustT(t, db.Update(func(tx *Tx) error { var err error; other, err = tx.Insert("s", []byte("other")); return err }))
	if other == pid {
		t.Fatalf("a prepared transaction's record id %v was handed out again after its decision failed", pid)
	}
	acked[other] = "other"
	mustT(t, p.Commit())
	acked[pid] = "prepared"
	for _, pr := range preps {
		if _, decided := acked[pr.id]; !decided {
			mustT(t, pr.p.Rollback())
		}
	}
	readsAll(t, db, acked)
	mustT(t, db.Close())
	mustT(t, d.Reopen())
	db, err = OpenStorage(d, Options{ManualSync: true})
	mustT(t, err)
	readsAll(t, db, acked)
	mustT(t, db.Close())
}

// TestOpenDecidesOnAFullDisk: an open that finds a transaction prepared
// decides it on a full disk where the journal has spare pages left: the
// decision journals one entry, and its
// changes, journaled when it was prepared, are not held to the room for
// the checkpoint after them.
func TestOpenDecidesOnAFullDisk(t *testing.T) {
	for _, size := range []int{100, 2000} {
		full := false
		d := fillingDisk(&full)
		db, err := OpenStorage(d, Options{ManualSync: true})
		mustT(t, err)
		mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
		tx, err := db.Begin(TxOptions{ID: []byte("xa")})
		mustT(t, err)
		big := strings.Repeat("p", 40<<10)
		pid, err := tx.Insert("s", []byte(big))
		mustT(t, err)
		_, err = tx.Prepare()
		mustT(t, err)
		full = true
		acked := map[RecordID]string{}
		// A few inserts on the full disk: the journal keeps spare pages
		// for the decision. (One whose spares are all taken needs a
		// refill of them for it, which a full disk has no room for.)
		for range 3 {
			var id RecordID
			v := strings.Repeat("f", size)
			if err := db.Update(func(tx *Tx) error { var err error; id, err = tx.Insert("s", []byte(v)); return err }); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				continue
			}
			acked[id] = v
		}
		mustT(t, db.Close())
		mustT(t, d.Reopen())
		db, err = OpenStorage(d, Options{ManualSync: true})
		if err != nil {
			t.Fatalf("%d-byte records: an open deciding a prepared transaction on the full disk: %v", size, err)
		}
		acked[pid] = big
		readsAll(t, db, acked)
		mustT(t, db.Close())
	}
}

// TestEveryDeleteCommitsOnAFullDisk: on a disk filled until three
// inserts in a row find no room, every record of every size is deleted,
// one commit each, though the journal's spares run out on the way: a
// delete may use the ballast, and a refill takes the spares there is
// room for.
func TestEveryDeleteCommitsOnAFullDisk(t *testing.T) {
	for _, size := range []int{100, 1000, 3000, 9000} {
		full := false
		d := fillingDisk(&full)
		db, err := OpenStorage(d, Options{ManualSync: true})
		mustT(t, err)
		mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
		acked := map[RecordID]string{}
		var ids []RecordID
		for i, failures := 0, 0; failures < 3; i++ {
			full = i >= 20
			var id RecordID
			v := strings.Repeat("x", size)
			if err := db.Update(func(tx *Tx) error { var err error; id, err = tx.Insert("s", []byte(v)); return err }); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				failures++
				continue
			}
			failures = 0
			acked[id] = v
			ids = append(ids, id)
		}
		for i, id := range ids {
			if err := db.Update(func(tx *Tx) error { return tx.Delete("s", id) }); err != nil {
				t.Fatalf("%d-byte records: delete %d of %d on the full disk: %v", size, i+1, len(ids), err)
			}
			delete(acked, id)
		}
		readsAll(t, db, acked)
		mustT(t, db.Check())
		mustT(t, db.Close())
	}
}
