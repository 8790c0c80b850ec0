package txn

import (
	"strings"
	"testing"

	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/sim/diskmodel"
	"pgregory.net/rapid"
)

// TestCheckpointRoomBoundsTheCheckpoint: after any history of segment
// creates and drops, inserts, updates and deletes of records of every
// size, prepared transactions decided either way, snapshots held across
// checkpoints and a reopen, the room commits keep for the next
// checkpoint is, class by class, at least what that checkpoint reserves
// when it runs.
func TestCheckpointRoomBoundsTheCheckpoint(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := diskmodel.New(diskmodel.Options{})
		opts := Options{ManualSync: true, CheckpointBytes: 1 << 30}
		db, err := OpenStorage(m, opts)
		if err != nil {
			t.Fatal(err)
		}
		var segs []string
		ids := map[string][]RecordID{}
		var snaps []*Snapshot
		defer func() {
			for _, s := range snaps {
				_ = s.Close()
			}
			_ = db.Close()
		}()
		check := func(when string) {
			db.wmu.Lock()
			defer db.wmu.Unlock()
			db.mu.Lock()
			v, minPin, nextSeg := db.cur, db.minPin(), db.nextSeg
			db.mu.Unlock()
			room := db.checkpointRoom(v, nil)
			exact := db.checkpointNeed(v, minPin, nextSeg)
			for c := range room {
				if room[c] < exact[c] {
					t.Fatalf("%s: commits kept room for %d pages of %d bytes, the checkpoint needs %d (room %v, need %v)",
						when, room[c], 1<<(page.MinExp+c), exact[c], room, exact)
				}
			}
		}
		value := func(t *rapid.T) []byte {
			n := rapid.SampledFrom([]int{0, 10, 400, 1000, 3000, 9000, 40 << 10}).Draw(t, "size")
			return []byte(strings.Repeat("v", n))
		}
		changes := func(t *rapid.T, tx *Tx) {
			for range rapid.IntRange(1, 6).Draw(t, "changes") {
				if len(segs) == 0 {
					return
				}
				seg := rapid.SampledFrom(segs).Draw(t, "segment")
				live := ids[seg]
				switch k := rapid.IntRange(0, 2).Draw(t, "change"); {
				case k == 0 || len(live) == 0:
					id, err := tx.Insert(seg, value(t))
					if err != nil {
						t.Fatal(err)
					}
					ids[seg] = append(ids[seg], id)
				case k == 1:
					id := rapid.SampledFrom(live).Draw(t, "updated")
					if err := tx.Update(seg, id, value(t)); err != nil {
						t.Fatal(err)
					}
				default:
					i := rapid.IntRange(0, len(live)-1).Draw(t, "deleted")
					if err := tx.Delete(seg, live[i]); err != nil {
						t.Fatal(err)
					}
					ids[seg] = append(live[:i:i], live[i+1:]...)
				}
			}
		}
		for step := range rapid.IntRange(1, 40).Draw(t, "steps") {
			switch rapid.IntRange(0, 7).Draw(t, "action") {
			case 0:
				name := rapid.SampledFrom([]string{"a", "b", "c"}).Draw(t, "name")
				if _, ok := ids[name]; ok {
					continue
				}
				if err := db.Update(func(tx *Tx) error { return tx.CreateSegment(name) }); err != nil {
					t.Fatal(err)
				}
				segs, ids[name] = append(segs, name), nil
			case 1:
				if len(segs) == 0 {
					continue
				}
				i := rapid.IntRange(0, len(segs)-1).Draw(t, "dropped")
				if err := db.Update(func(tx *Tx) error { return tx.DropSegment(segs[i]) }); err != nil {
					t.Fatal(err)
				}
				delete(ids, segs[i])
				segs = append(segs[:i:i], segs[i+1:]...)
			case 2, 3:
				saved := map[string][]RecordID{}
				for k, v := range ids {
					saved[k] = append([]RecordID(nil), v...)
				}
				tx, err := db.Begin(TxOptions{ID: []byte{byte(step)}})
				if err != nil {
					t.Fatal(err)
				}
				changes(t, tx)
				p, err := tx.Prepare()
				if err != nil {
					t.Fatal(err)
				}
				if rapid.Bool().Draw(t, "rollback") {
					err, ids = p.Rollback(), saved
				} else {
					err = p.Commit()
				}
				if err != nil {
					t.Fatal(err)
				}
			case 4:
				s, err := db.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				snaps = append(snaps, s)
			case 5:
				if len(snaps) > 0 {
					if err := snaps[0].Close(); err != nil {
						t.Fatal(err)
					}
					snaps = snaps[1:]
				}
			case 6:
				check("before a checkpoint")
				if err := db.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			case 7:
				if len(snaps) > 0 {
					continue
				}
				check("before a close")
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if err := m.Reopen(); err != nil {
					t.Fatal(err)
				}
				if db, err = OpenStorage(m, opts); err != nil {
					t.Fatal(err)
				}
			}
			check("after a step")
		}
	})
}

// TestRoomCountsARecordOnce: the room commits keep for the checkpoint
// counts one data page for a record put many times since the last
// checkpoint, not one per put: the file grows for what the checkpoint
// writes, not for the history of the journal.
func TestRoomCountsARecordOnce(t *testing.T) {
	db, err := OpenMemory(Options{CheckpointBytes: 1 << 30})
	mustT(t, err)
	defer db.Close()
	mustT(t, db.Update(func(tx *Tx) error { return tx.CreateSegment("s") }))
	ids := insertN(t, db, "s", 10, func(int) []byte { return []byte("v0") })
	for i := range 200 {
		mustT(t, db.Update(func(tx *Tx) error { return tx.Update("s", ids[i%len(ids)], []byte("v1")) }))
	}
	mustT(t, db.Update(func(tx *Tx) error { return tx.Delete("s", ids[0]) }))
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if got := db.hold.data[0]; got != len(ids)-1 {
		t.Fatalf("room for %d pages of %d bytes after 10 inserts, 200 updates and a delete, want 9", got, page.MinBytes)
	}
}
