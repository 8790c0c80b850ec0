package persy

import (
	"bytes"
	"cmp"
	"math"
	"math/big"
	"testing"

	"pgregory.net/rapid"
)

// checkOrder asserts, for values drawn by gen and ordered by less, that
// the encoding orders them the same way and decodes back to them.
func checkOrder[K Key](t *testing.T, gen *rapid.Generator[K], less func(a, b K) bool, eq func(a, b K) bool) {
	t.Run(typeOf[K]().String(), func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			a, b := gen.Draw(t, "a"), gen.Draw(t, "b")
			ea, eb := encode(a), encode(b)
			if got, want := bytes.Compare(ea, eb) < 0, less(a, b); got != want {
				t.Fatalf("%v < %v is %v, but their encodings compare %v", a, b, want, got)
			}
			if bytes.Equal(ea, eb) != eq(a, b) {
				t.Fatalf("%v and %v: equal encodings %v, equal values %v", a, b, bytes.Equal(ea, eb), eq(a, b))
			}
			for _, x := range []K{a, b} {
				got, err := decode[K](encode(x))
				if err != nil || !eq(got, x) {
					t.Fatalf("decode(encode(%v)) = %v, %v", x, got, err)
				}
			}
		})
	})
}

func ordered[K cmp.Ordered]() (func(a, b K) bool, func(a, b K) bool) {
	return func(a, b K) bool { return a < b }, func(a, b K) bool { return a == b }
}

// totalOrder is IEEE 754 totalOrder on the bits of a float.
func totalOrder(bits uint64, sign uint64) int64 {
	if bits&sign != 0 {
		return -int64(bits&^sign) - 1
	}
	return int64(bits)
}

func TestKeyEncodingPreservesOrder(t *testing.T) {
	l8, e8 := ordered[int8]()
	checkOrder(t, rapid.Int8(), l8, e8)
	l16, e16 := ordered[int16]()
	checkOrder(t, rapid.Int16(), l16, e16)
	l32, e32 := ordered[int32]()
	checkOrder(t, rapid.Int32(), l32, e32)
	l64, e64 := ordered[int64]()
	checkOrder(t, rapid.Int64(), l64, e64)
	lu8, eu8 := ordered[uint8]()
	checkOrder(t, rapid.Uint8(), lu8, eu8)
	lu16, eu16 := ordered[uint16]()
	checkOrder(t, rapid.Uint16(), lu16, eu16)
	lu32, eu32 := ordered[uint32]()
	checkOrder(t, rapid.Uint32(), lu32, eu32)
	lu64, eu64 := ordered[uint64]()
	checkOrder(t, rapid.Uint64(), lu64, eu64)
	ls, es := ordered[string]()
	checkOrder(t, rapid.String(), ls, es)
	checkOrder(t, rapid.SliceOf(rapid.Byte()), func(a, b []byte) bool { return bytes.Compare(a, b) < 0 }, bytes.Equal)
	checkOrder(t, rapid.Custom(func(t *rapid.T) RecordID {
		return RecordID{Page: rapid.Uint64().Draw(t, "page"), Pos: rapid.Uint32().Draw(t, "pos")}
	}), func(a, b RecordID) bool { return a.Page < b.Page || (a.Page == b.Page && a.Pos < b.Pos) },
		func(a, b RecordID) bool { return a == b })
	checkOrder(t, rapid.Custom(func(t *rapid.T) Int128 {
		return Int128{Hi: rapid.Int64().Draw(t, "hi"), Lo: rapid.Uint64().Draw(t, "lo")}
	}), func(a, b Int128) bool { return a.Big().Cmp(b.Big()) < 0 }, func(a, b Int128) bool { return a == b })
	checkOrder(t, rapid.Custom(func(t *rapid.T) Uint128 {
		return Uint128{Hi: rapid.Uint64().Draw(t, "hi"), Lo: rapid.Uint64().Draw(t, "lo")}
	}), func(a, b Uint128) bool { return a.Big().Cmp(b.Big()) < 0 }, func(a, b Uint128) bool { return a == b })
	// Floats from their bits, so NaNs of every payload, infinities and
	// both zeros are drawn; ordered by totalOrder, equal when their bits
	// are.
	checkOrder(t, rapid.Custom(func(t *rapid.T) float64 {
		return math.Float64frombits(rapid.SampledFrom([]uint64{0, 1 << 63, 0x7ff0000000000000, 0xfff0000000000000,
			0x7ff8000000000001, 0xfff8000000000000, rapid.Uint64().Draw(t, "bits")}).Draw(t, "f"))
	}), func(a, b float64) bool {
		return totalOrder(math.Float64bits(a), 1<<63) < totalOrder(math.Float64bits(b), 1<<63)
	}, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) })
	checkOrder(t, rapid.Custom(func(t *rapid.T) float32 {
		return math.Float32frombits(rapid.SampledFrom([]uint32{0, 1 << 31, 0x7f800000, 0xff800000,
			0x7fc00001, 0xffc00000, rapid.Uint32().Draw(t, "bits")}).Draw(t, "f"))
	}), func(a, b float32) bool {
		return totalOrder(uint64(math.Float32bits(a)), 1<<31) < totalOrder(uint64(math.Float32bits(b)), 1<<31)
	}, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) })
}

// TestFloatKeysInTotalOrder pins the documented places of NaN, the
// infinities and the zeros.
func TestFloatKeysInTotalOrder(t *testing.T) {
	negNaN := math.Float64frombits(0xfff8000000000000)
	in := []float64{negNaN, math.Inf(-1), -1.5, math.Copysign(0, -1), 0, 2, math.Inf(1), math.NaN()}
	for i := 1; i < len(in); i++ {
		if bytes.Compare(encode(in[i-1]), encode(in[i])) >= 0 {
			t.Errorf("%v does not encode below %v", in[i-1], in[i])
		}
	}
}

func TestInt128Big(t *testing.T) {
	if got := (Int128{Hi: -1, Lo: math.MaxUint64}).Big(); got.Cmp(big.NewInt(-1)) != 0 {
		t.Errorf("Int128{-1, max} is %v, want -1", got)
	}
}
