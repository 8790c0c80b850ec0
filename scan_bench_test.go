package persy

import (
	"bytes"
	"testing"
)

// benchScanRecords is the number of 100-byte records BenchmarkScan loads.
const benchScanRecords = 200_000

// BenchmarkScan: a full scan of a segment of 200,000 records of 100
// bytes through a snapshot, DESIGN's B4; an op is one record read.
func BenchmarkScan(b *testing.B) {
	db := benchSegmentDB(b)
	val := bytes.Repeat([]byte{7}, 100)
	for done := 0; done < benchScanRecords; {
		err := db.Update(func(tx *Tx) error {
			for i := 0; i < 10_000; i++ {
				if _, err := tx.Insert("s", val); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
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
