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
