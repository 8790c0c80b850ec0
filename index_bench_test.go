package persy

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// benchIndexKeys is the number of keys BenchmarkIndexGet loads.
const benchIndexKeys = 1_000_000

func benchIndexDB(b *testing.B) *DB {
	return benchDB(b, func(tx *Tx) error { return CreateIndex[uint64, uint64](tx, "i", Replace) })
}

// benchSegmentDB is a benchmark's database on a real file holding one
// empty segment, "s".
func benchSegmentDB(b *testing.B) *DB {
	return benchDB(b, func(tx *Tx) error { return tx.CreateSegment("s") })
}

// benchDB is a benchmark's database on a real file in its temporary
// folder, created by create and closed when the benchmark ends.
func benchDB(b *testing.B, create func(*Tx) error) *DB {
	b.Helper()
	db, err := OpenOrCreate(filepath.Join(b.TempDir(), "db"), Options{}, create)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// putRandom puts n random keys, 10,000 per durable commit.
func putRandom(b *testing.B, db *DB, r *rand.Rand, n int) {
	ix := IndexOf[uint64, uint64]("i")
	for done := 0; done < n; {
		err := db.Update(func(tx *Tx) error {
			for i := 0; i < 10_000 && done < n; i++ {
				k := r.Uint64()
				if err := ix.Put(tx, k, k); err != nil {
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

// BenchmarkIndexPut: random puts into a uint64 index, 10,000 per durable
// commit; an op is one put. Run with -benchtime 1000000x for a million.
func BenchmarkIndexPut(b *testing.B) {
	db := benchIndexDB(b)
	r := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	putRandom(b, db, r, b.N)
}

// loadedIndex returns a database whose index holds n random keys, put
// as putRandom puts them and checkpointed, a snapshot of it, closed when
// b ends, and the keys in the order they were put.
func loadedIndex(b *testing.B, n int) (*DB, *Snapshot, []uint64) {
	db := benchIndexDB(b)
	putRandom(b, db, rand.New(rand.NewPCG(1, 2)), n)
	if err := db.Checkpoint(); err != nil {
		b.Fatal(err)
	}
	s, err := db.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	r := rand.New(rand.NewPCG(1, 2)) // the sequence putRandom drew
	keys := make([]uint64, n)
	for j := range keys {
		keys[j] = r.Uint64()
	}
	return db, s, keys
}

// BenchmarkIndexGet: random gets of keys present, through a snapshot of
// an index of a million keys; an op is one get.
func BenchmarkIndexGet(b *testing.B) {
	_, s, keys := loadedIndex(b, benchIndexKeys)
	// Shuffled: every key is there, in another order than the load's.
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(keys), func(a, c int) { keys[a], keys[c] = keys[c], keys[a] })
	ix := IndexOf[uint64, uint64]("i")
	b.ResetTimer()
	for i := range b.N {
		k := keys[i%benchIndexKeys]
		if v, ok, err := ix.One(s, k); err != nil || !ok || v != k {
			b.Fatalf("key %d: %d %v %v", k, v, ok, err)
		}
	}
}

// benchRangeKeys is the number of keys BenchmarkIndexRange loads.
const benchRangeKeys = 200_000

// BenchmarkIndexRange: ranges of 100 keys from a random key present,
// through a snapshot of an index of 200,000 keys; an op is one range.
func BenchmarkIndexRange(b *testing.B) {
	db, s, keys := loadedIndex(b, benchRangeKeys)
	ix := IndexOf[uint64, uint64]("i")
	read := func(s *Snapshot, lo uint64) {
		n := 0
		for e, err := range ix.Range(s, Included(lo), Unbounded[uint64]()) {
			if err != nil || len(e.Values) != 1 {
				b.Fatalf("range: %v, %d values", err, len(e.Values))
			}
			if n++; n == 100 {
				break
			}
		}
	}
	b.Run("snapshot", func(b *testing.B) {
		for i := range b.N {
			read(s, keys[i%len(keys)])
		}
	})
	// A snapshot per range, as a caller of DB.View reads.
	b.Run("view", func(b *testing.B) {
		for i := range b.N {
			if err := db.View(func(s *Snapshot) error { read(s, keys[i%len(keys)]); return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
