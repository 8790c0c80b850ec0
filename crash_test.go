package persy_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/sim/diskmodel"
)

// lostUnsynced is the crash image in which nothing reached the disk past
// its last barrier.
var lostUnsynced = diskmodel.Func(func(string, int) int { return 0 })

// crashDuring runs fn on a database on a simulated disk, crashing the
// machine at fn's yield point crashAt, and returns the image a crash
// losing every unsynced write leaves, and whether fn got that far.
func crashDuring(t *testing.T, setup, fn func(db *persy.DB) error, crashAt int) (*diskmodel.Disk, bool) {
	t.Helper()
	armed, n := false, 0
	disk := diskmodel.New(diskmodel.Options{Yield: func(*diskmodel.Disk, diskmodel.Op) error {
		if armed {
			if n == crashAt {
				return diskmodel.ErrCrashed
			}
			n++
		}
		return nil
	}})
	db, err := persy.OpenStorage(disk, persy.Options{ManualSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := setup(db); err != nil {
		t.Fatal(err)
	}
	armed = true
	_ = fn(db)
	if !disk.Crashed() {
		return nil, false
	}
	img, err := disk.CrashImage(lostUnsynced, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := diskmodel.FromImage(img, diskmodel.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return d, true
}

// TestOnePhaseCommitIsNeverInDoubt: a tx.Commit() cut short by a crash is
// committed or never happened; recovery never offers it as prepared. The
// record sizes move the commit's last entries across a journal page
// boundary, and the crash comes at every yield of the commit.
func TestOnePhaseCommitIsNeverInDoubt(t *testing.T) {
	setup := func(db *persy.DB) error {
		return db.Update(func(tx *persy.Tx) error { return tx.CreateSegment("s") })
	}
	crashes := 0
	for size := 3950; size <= 4060; size++ {
		commit := func(db *persy.DB) error {
			tx, err := db.Begin(persy.TxOptions{ID: []byte("one-phase")})
			if err != nil {
				return err
			}
			if _, err := tx.Insert("s", bytes.Repeat([]byte{'x'}, size)); err != nil {
				return err
			}
			return tx.Commit()
		}
		for at := 0; ; at++ {
			d, crashed := crashDuring(t, setup, commit, at)
			if !crashed {
				break
			}
			crashes++
			rec, err := persy.Recover(d, persy.Options{ManualSync: true})
			if err != nil {
				t.Fatalf("record of %d bytes, crash at yield %d of the commit: recover: %v", size, at, err)
			}
			for _, tx := range rec.Transactions() {
				if tx.Status == persy.StatusPrepared {
					t.Fatalf("record of %d bytes, crash at yield %d of the commit: the one-phase commit %q is offered as prepared", size, at, tx.ID)
				}
			}
			db, err := rec.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Check(); err != nil {
				t.Fatal(err)
			}
			db.Close()
		}
	}
	if crashes == 0 {
		t.Fatal("no crash inside a commit: the test did not run")
	}
}

// recordingDisk keeps every page image written, by address.
type recordingDisk struct {
	*diskmodel.Disk
	writes []pageWrite
}

type pageWrite struct {
	off  int64
	data []byte
}

func (d *recordingDisk) WriteAt(p []byte, off int64) error {
	if len(p) >= 512 && off%512 == 0 {
		d.writes = append(d.writes, pageWrite{off, bytes.Clone(p)})
	}
	return d.Disk.WriteAt(p, off)
}

// TestStalePagesAreDetected builds a file through commits, checkpoints
// and reopens that free and reuse pages, then makes damaged copies of it,
// each with one page holding an older image of itself: a write the device
// acknowledged and lost. Opening and reading each copy must give exactly
// the records committed, or a *CorruptError; never other data.
func TestStalePagesAreDetected(t *testing.T) {
	d := &recordingDisk{Disk: diskmodel.New(diskmodel.Options{})}
	opts := persy.Options{ManualSync: true, CheckpointBytes: 1 << 30}
	db, err := persy.OpenStorage(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string]map[persy.RecordID]string{"a": {}, "b": {}}
	if err := db.Update(func(tx *persy.Tx) error {
		if err := tx.CreateSegment("a"); err != nil {
			return err
		}
		return tx.CreateSegment("b")
	}); err != nil {
		t.Fatal(err)
	}
	for phase := range 4 {
		for i := range 12 {
			seg := []string{"a", "b"}[r.IntN(2)]
			recs := want[seg]
			data := strings.Repeat(fmt.Sprintf("%d.%d|", phase, i), []int{2, 100, 500}[r.IntN(3)])
			err := db.Update(func(tx *persy.Tx) error {
				ids := slices.SortedFunc(maps.Keys(recs), func(a, b persy.RecordID) int { return strings.Compare(a.String(), b.String()) })
				switch k := r.IntN(4); {
				case k < 2 || len(ids) == 0:
					id, err := tx.Insert(seg, []byte(data))
					recs[id] = data
					return err
				case k == 2:
					id := ids[r.IntN(len(ids))]
					recs[id] = data
					return tx.Update(seg, id, []byte(data))
				default:
					id := ids[r.IntN(len(ids))]
					delete(recs, id)
					return tx.Delete(seg, id)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if i%4 == 3 {
				if err := db.Checkpoint(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if err := d.Reopen(); err != nil {
			t.Fatal(err)
		}
		if db, err = persy.OpenStorage(d, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Reopen(); err != nil {
		t.Fatal(err)
	}
	final := bytes.Clone(d.Bytes(0, int(d.Size())))

	copies, detected := 0, 0
	seen := map[string]bool{}
	for _, w := range d.writes {
		end := w.off + int64(len(w.data))
		if end > int64(len(final)) || bytes.Equal(final[w.off:end], w.data) || seen[string(w.data)] {
			continue
		}
		seen[string(w.data)] = true
		img := bytes.Clone(final)
		copy(img[w.off:], w.data)
		copies++
		got, err := openAndRead(img)
		var ce *persy.CorruptError
		switch {
		case errors.As(err, &ce):
			detected++
		case err != nil:
			t.Fatalf("page at %d holding an older image: %v, not a *CorruptError", w.off, err)
		case !maps.EqualFunc(got, want, maps.Equal):
			t.Fatalf("page at %d holding an older image: read other records than were committed, with no error", w.off)
		}
	}
	if copies == 0 || detected == 0 {
		t.Fatalf("%d damaged copies, %d detected: the test did not run", copies, detected)
	}
	t.Logf("%d damaged copies: %d detected, the rest read exactly what was committed", copies, detected)
}

// openAndRead opens the image, reads every record and checks the file.
func openAndRead(img []byte) (map[string]map[persy.RecordID]string, error) {
	d, err := diskmodel.FromImage(&diskmodel.Image{Exists: true, Data: img}, diskmodel.Options{})
	if err != nil {
		return nil, err
	}
	db, err := persy.OpenStorage(d, persy.Options{ManualSync: true})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	got := map[string]map[persy.RecordID]string{}
	err = db.View(func(s *persy.Snapshot) error {
		segs, err := s.Segments()
		if err != nil {
			return err
		}
		for _, seg := range segs {
			got[seg] = map[persy.RecordID]string{}
			for rec, err := range s.Scan(seg) {
				if err != nil {
					return err
				}
				got[seg][rec.ID] = string(rec.Data)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return got, db.Check()
}

// TestCrashWhileFormattingLeavesNothingOrADatabase: a crash at any point
// of formatting an empty storage, with any image the paranoid profile
// allows there (torn sectors holding garbage, a grown size kept or lost,
// garbage in an extension never written), leaves no file or a storage
// that OpenStorage opens or formats again: never an error that leaves
// the caller stuck.
func TestCrashWhileFormattingLeavesNothingOrADatabase(t *testing.T) {
	images := 0
	for at := 0; ; at++ {
		n := 0
		disk := diskmodel.New(diskmodel.Options{Profile: diskmodel.Paranoid, Yield: func(*diskmodel.Disk, diskmodel.Op) error {
			if n == at {
				return diskmodel.ErrCrashed
			}
			n++
			return nil
		}})
		db, err := persy.OpenStorage(disk, persy.Options{ManualSync: true})
		if !disk.Crashed() {
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			break
		}
		for seed := range uint64(40) {
			var ch diskmodel.Chooser = diskmodel.Seeded(seed)
			switch seed {
			case 0:
				ch = lostUnsynced
			case 1:
				ch = diskmodel.Func(func(_ string, n int) int { return n - 1 })
			}
			img, err := disk.CrashImage(ch, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !img.Exists {
				continue
			}
			images++
			d, err := diskmodel.FromImage(img, diskmodel.Options{Profile: diskmodel.Paranoid})
			if err != nil {
				t.Fatal(err)
			}
			db, err := persy.OpenStorage(d, persy.Options{ManualSync: true})
			if err != nil {
				t.Fatalf("crash at yield %d of formatting, image %d: %v", at, seed, err)
			}
			if err := db.Update(func(tx *persy.Tx) error { return tx.CreateSegment("s") }); err != nil {
				t.Fatalf("crash at yield %d of formatting, image %d: a commit on the storage opened: %v", at, seed, err)
			}
			if err := db.Check(); err != nil {
				t.Fatalf("crash at yield %d of formatting, image %d: %v", at, seed, err)
			}
			db.Close()
		}
	}
	if images == 0 {
		t.Fatal("no image of a storage cut short while formatting: the test did not run")
	}
}
