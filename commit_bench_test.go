package persy

import (
	"bytes"
	"path/filepath"
	"testing"
)

// BenchmarkCommitDurable: DESIGN's B1, one 100-byte record per durable
// transaction on a real file; an op is one commit.
func BenchmarkCommitDurable(b *testing.B) {
	db, err := OpenOrCreate(filepath.Join(b.TempDir(), "db"), Options{}, func(tx *Tx) error {
		return tx.CreateSegment("s")
	})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
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
