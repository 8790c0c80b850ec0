package persy_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/sim/diskmodel"
)

// rootLoser is a storage whose device loses one write of a root copy:
// the armed store's slot keeps, in the image taken later, the bytes it
// held before.
type rootLoser struct {
	mmapfile.Storage
	stores int // root copies stored so far
	lose   int // the store whose write is lost, counted from 1
	off    int64
	old    []byte
	img    []byte // the image at the crash: before the store after the lost one
}

// slotBytes is the size of a root copy's slot; the two slots follow the
// root page.
const slotBytes = 1 << page.RootExp

func (s *rootLoser) WriteAt(p []byte, off int64) error {
	if (off == slotBytes || off == 2*slotBytes) && len(p) == slotBytes {
		s.stores++
		if s.stores == s.lose+1 && s.img == nil {
			s.img = s.image()
		}
		if s.stores == s.lose {
			s.off, s.old = off, bytes.Clone(s.Bytes(off, slotBytes))
		}
	}
	return s.Storage.WriteAt(p, off)
}

// image returns the file as the device holds it: the lost store's slot
// as it was before.
func (s *rootLoser) image() []byte {
	img := bytes.Clone(s.Bytes(0, int(s.Size())))
	if s.old != nil {
		copy(img[s.off:], s.old)
	}
	return img
}

// TestLostRootCopyIsDetected loses the write of each root copy in turn
// (a media fault: the device acknowledged it) while commits go on
// writing the journal, some of them into spares a refill took from the
// free lists of the state before. Recovery then loads the older copy,
// whose free lists hold journal pages it reads: it must refuse the file
// as corrupt, or open a state that Check finds whole and that keeps
// what is committed after it.
func TestLostRootCopyIsDetected(t *testing.T) {
	opts := persy.Options{LockTimeout: -1, ManualSync: true, CheckpointBytes: 16 << 10}
	refused, opened := 0, 0
	for lose := 1; lose <= 120; lose++ {
		mem, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s := &rootLoser{Storage: mem, lose: lose}
		db, err := persy.OpenStorage(s, opts)
		if err != nil {
			t.Fatal(err)
		}
		var ids []persy.RecordID
		for i := range 160 {
			err := db.Update(func(tx *persy.Tx) error {
				if i == 0 {
					return tx.CreateSegment("s")
				}
				if i%3 == 2 && len(ids) > 0 {
					id := ids[0]
					ids = ids[1:]
					return tx.Delete("s", id)
				}
				id, err := tx.Insert("s", bytes.Repeat([]byte{byte(i)}, 300+i*37%5000))
				ids = append(ids, id)
				return err
			})
			if err != nil {
				t.Fatalf("lose %d: commit %d: %v", lose, i, err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if s.old == nil {
			break // fewer root stores than lose
		}
		if s.img == nil {
			s.img = s.image()
		}
		d, err := diskmodel.FromImage(&diskmodel.Image{Exists: true, Data: s.img}, diskmodel.Options{Profile: diskmodel.Media})
		if err != nil {
			t.Fatal(err)
		}
		re, err := persy.OpenStorage(d, opts)
		var ce *persy.CorruptError
		if errors.As(err, &ce) {
			if strings.Contains(ce.Reason, "was written under root generation") {
				refused++
			}
			continue
		}
		if err != nil {
			t.Fatalf("lose %d: open: %v, not a *CorruptError", lose, err)
		}
		opened++
		if err := re.Check(); err != nil {
			t.Fatalf("lose %d: the file opened after a lost root copy, and Check finds: %v", lose, err)
		}
		if err := afterOpen(re); err != nil {
			t.Fatalf("lose %d: the file opened after a lost root copy: %v", lose, err)
		}
		if err := re.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d lost root copies refused for a journal written after them, %d opened whole", refused, opened)
	if refused == 0 {
		t.Fatal("no lost root copy was refused for a journal written after it: the test no longer loses a copy the journal outlives")
	}
}

// afterOpen commits, checkpoints and reopens, and checks the commits are
// there.
func afterOpen(db *persy.DB) error {
	var ids []persy.RecordID
	for i := range 60 {
		err := db.Update(func(tx *persy.Tx) error {
			if ok, err := tx.SegmentExists("t"); err != nil || !ok {
				if err := tx.CreateSegment("t"); err != nil {
					return err
				}
			}
			id, err := tx.Insert("t", bytes.Repeat([]byte{byte(i)}, 900))
			ids = append(ids, id)
			return err
		})
		if err != nil {
			return fmt.Errorf("commit %d: %w", i, err)
		}
	}
	if err := db.Check(); err != nil {
		return fmt.Errorf("check after commits: %w", err)
	}
	return db.View(func(snap *persy.Snapshot) error {
		for i, id := range ids {
			got, err := snap.Read("t", id)
			if err != nil || !bytes.Equal(got, bytes.Repeat([]byte{byte(i)}, 900)) {
				return fmt.Errorf("record %d of the commits after the open: %v", i, err)
			}
		}
		return nil
	})
}
