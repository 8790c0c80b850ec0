package persy

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

// putAll creates index name of types K -> V and puts the pairs.
func putAll[K, V Key](t *testing.T, db *DB, name string, m Mode, keys []K, vals []V) {
	t.Helper()
	mustT(t, db.Update(func(tx *Tx) error {
		if err := CreateIndex[K, V](tx, name, m); err != nil {
			return err
		}
		for i := range keys {
			if err := IndexOf[K, V](name).Put(tx, keys[i], vals[i]); err != nil {
				return err
			}
		}
		return nil
	}))
}

// TestIndexEntries: an index read without knowing its types yields each
// key and value as the Go type it was put as, in key order, for every
// type of Key.
func TestIndexEntries(t *testing.T) {
	db := openIndexDB(t, Options{ManualSync: true})
	putAll(t, db, "u", Cluster, []uint8{2, 1, 2}, []uint16{7, 8, 6})
	putAll(t, db, "i", Replace, []int8{-3, 5}, []int16{-300, 300})
	putAll(t, db, "i32", Replace, []int32{math.MinInt32}, []uint32{math.MaxUint32})
	putAll(t, db, "i64", Replace, []int64{-1}, []uint64{math.MaxUint64})
	putAll(t, db, "f", Replace, []float32{-0.5, 1.5}, []float64{math.Inf(-1), 2.25})
	putAll(t, db, "s", Replace, []string{"b", "a"}, [][]byte{{0, 1}, []byte("x")})
	putAll(t, db, "r", Replace, []RecordID{{Page: 2, Pos: 1}}, []Int128{{Hi: -1, Lo: 5}})
	putAll(t, db, "w", Replace, []Uint128{{Hi: 1, Lo: 2}}, []RecordID{{Page: 1, Pos: 0}})

	want := map[string][]AnyEntry{
		"u":   {{uint8(1), []any{uint16(8)}}, {uint8(2), []any{uint16(6), uint16(7)}}},
		"i":   {{int8(-3), []any{int16(-300)}}, {int8(5), []any{int16(300)}}},
		"i32": {{int32(math.MinInt32), []any{uint32(math.MaxUint32)}}},
		"i64": {{int64(-1), []any{uint64(math.MaxUint64)}}},
		"f":   {{float32(-0.5), []any{math.Inf(-1)}}, {float32(1.5), []any{2.25}}},
		"s":   {{"a", []any{[]byte("x")}}, {"b", []any{[]byte{0, 1}}}},
		"r":   {{RecordID{Page: 2, Pos: 1}, []any{Int128{Hi: -1, Lo: 5}}}},
		"w":   {{Uint128{Hi: 1, Lo: 2}, []any{RecordID{Page: 1, Pos: 0}}}},
	}
	snap, err := db.Snapshot()
	mustT(t, err)
	defer snap.Close()
	for name, w := range want {
		var got []AnyEntry
		for e, err := range snap.IndexEntries(name) {
			mustT(t, err)
			got = append(got, e)
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("index %s: %#v, want %#v", name, got, w)
		}
	}
	info, err := snap.IndexInfo("u")
	mustT(t, err)
	if info.Name != "u" || info.Key != typeOf[uint8]() || info.Value != typeOf[uint16]() || info.Mode != Cluster || info.Depth != 1 {
		t.Errorf("IndexInfo: %+v", info)
	}
	var errs []error
	for _, err := range snap.IndexEntries("none") {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], ErrIndexNotFound) {
		t.Errorf("entries of a missing index: %v, want ErrIndexNotFound", errs)
	}
	if _, err := snap.IndexInfo("none"); !errors.Is(err, ErrIndexNotFound) {
		t.Errorf("IndexInfo of a missing index: %v, want ErrIndexNotFound", err)
	}
}
