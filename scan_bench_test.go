package persy

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchScanRecords is the number of 100-byte records BenchmarkScan loads.
const benchScanRecords = 200_000

// BenchmarkScan: a full scan of a segment of 200,000 records of 100
// bytes through a snapshot, DESIGN's B4; an op is one record read.
func BenchmarkScan(b *testing.B) {
	db := benchSegmentDB(b)
	insertRecords(b, db, benchScanRecords)
	if err := db.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for n < b.N {
		err := db.View(func(s *Snapshot) error {
			for _, err := range s.Scan("s") {
				if err != nil {
					return err
				}
				if n++; n == b.N {
					break
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRead: DESIGN's B3 on one goroutine, a record of 100 bytes read
// by id at random among 200,000, each read through its own View; an op
// is one read.
func BenchmarkRead(b *testing.B) {
	db := benchSegmentDB(b)
	val := bytes.Repeat([]byte{7}, 100)
	ids := insertRecords(b, db, benchScanRecords)
	if err := db.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for range b.N {
		id := ids[r.IntN(len(ids))]
		err := db.View(func(s *Snapshot) error {
			got, err := s.Read("s", id)
			if err == nil && !bytes.Equal(got, val) {
				err = fmt.Errorf("record %v reads %q", id, got)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
