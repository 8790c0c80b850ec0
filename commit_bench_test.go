package persy

import (
	"bytes"
	"testing"
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

// BenchmarkLoad: DESIGN's B2, records of 100 bytes inserted 10,000 to a
// durable transaction on a real file, checkpoints included as they come;
// an op is one record.
func BenchmarkLoad(b *testing.B) {
	db := benchSegmentDB(b)
	val := bytes.Repeat([]byte{7}, 100)
	b.ResetTimer()
	for done := 0; done < b.N; {
		err := db.Update(func(tx *Tx) error {
			for range min(10_000, b.N-done) {
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
}
