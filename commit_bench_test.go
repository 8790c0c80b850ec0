package persy

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/gopersy/persy/mmapfile"
)

// BenchmarkCommitDurable: DESIGN's B1, one 100-byte record per durable
// transaction on a real file; an op is one commit.
func BenchmarkCommitDurable(b *testing.B) {
	db := benchSegmentDB(b)
	val := bytes.Repeat([]byte{7}, 100)
	b.ResetTimer()
	for range b.N {
		err := db.Update(func(tx *Tx) error {
			_, err := tx.Insert("s", val)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitWriters: DESIGN's B5, eight goroutines each committing
// one 100-byte record per durable transaction on a real file, sharing
// barriers through group commit; an op is one commit.
func BenchmarkCommitWriters(b *testing.B) {
	db := benchSegmentDB(b)
	val := bytes.Repeat([]byte{7}, 100)
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := db.Update(func(tx *Tx) error {
				_, err := tx.Insert("s", val)
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkLoad: DESIGN's B2, records of 100 bytes inserted 10,000 to a
// durable transaction on a real file, checkpoints included as they come;
// an op is one record.
func BenchmarkLoad(b *testing.B) {
	db := benchSegmentDB(b)
	b.ResetTimer()
	insertRecords(b, db, b.N)
}

// insertRecords inserts n records of 100 bytes into segment "s" of db,
// 10,000 to a durable commit, and returns their ids.
func insertRecords(b *testing.B, db *DB, n int) []RecordID {
	val := bytes.Repeat([]byte{7}, 100)
	ids := make([]RecordID, 0, n)
	for len(ids) < n {
		err := db.Update(func(tx *Tx) error {
			for range min(10_000, n-len(ids)) {
				id, err := tx.Insert("s", val)
				if err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return ids
}

// BenchmarkOpenAfterKill: DESIGN's B6 on an in-memory storage, so that
// it measures recovery's work and not the disk: 10,000 durable commits
// of one 100-byte record each, left as a killed process leaves them
// (nothing closed), then opened; an op is one open, which redoes what
// the last checkpoint does not hold.
func BenchmarkOpenAfterKill(b *testing.B) {
	mem, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	if err != nil {
		b.Fatal(err)
	}
	db, err := OpenStorage(mem, Options{ManualSync: true})
	if err != nil {
		b.Fatal(err)
	}
	val := bytes.Repeat([]byte{7}, 100)
	for i := range 10_000 {
		err := db.Update(func(tx *Tx) error {
			if i == 0 {
				if err := tx.CreateSegment("s"); err != nil {
					return err
				}
			}
			_, err := tx.Insert("s", val)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var img []byte
	for off := int64(0); off < mem.Size(); off += mmapfile.DefaultMemoryRegionBytes {
		img = append(img, mem.Bytes(off, int(min(mmapfile.DefaultMemoryRegionBytes, mem.Size()-off)))...)
	}
	b.SetBytes(int64(len(img)))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
		if err == nil {
			err = s.Grow(int64(len(img)))
		}
		if err == nil {
			err = s.WriteAt(img, 0)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		re, err := OpenStorage(s, Options{ManualSync: true})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := re.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
