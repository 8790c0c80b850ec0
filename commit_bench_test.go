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
