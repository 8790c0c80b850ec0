package persy

import (
	"fmt"
	"math/big"

	"github.com/gopersy/persy/index"
)

// Key is the set of types an index key or value may have. Floats are
// ordered by IEEE 754 totalOrder: negative NaNs first, then -Inf, the
// negative numbers, -0, +0, the positive numbers, +Inf, and positive NaNs
// last; -0 and +0 are distinct keys, and a NaN is stored and read back
// with its own bits. Strings and byte slices are ordered by their bytes.
// A RecordID is ordered by page, then position.
type Key interface {
	int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 |
		Int128 | Uint128 | float32 | float64 | string | []byte | RecordID
}

// Int128 is a signed 128-bit integer: Hi*2^64 + Lo, Hi holding the sign.
type Int128 struct {
	Hi int64
	Lo uint64
}

// Uint128 is an unsigned 128-bit integer: Hi*2^64 + Lo.
type Uint128 struct {
	Hi, Lo uint64
}

// Big returns i as a big.Int.
func (i Int128) Big() *big.Int {
	b := new(big.Int).Lsh(big.NewInt(i.Hi), 64)
	return b.Add(b, new(big.Int).SetUint64(i.Lo))
}

// Big returns u as a big.Int.
func (u Uint128) Big() *big.Int {
	b := new(big.Int).Lsh(new(big.Int).SetUint64(u.Hi), 64)
	return b.Add(b, new(big.Int).SetUint64(u.Lo))
}

// String returns i in decimal.
func (i Int128) String() string { return i.Big().String() }

// String returns u in decimal.
func (u Uint128) String() string { return u.Big().String() }

// Limits on an index's keys and values, as encoded: the bytes of a
// string or []byte, the fixed width of the other types.
const (
	MaxKeyBytes   = index.MaxKeyBytes   // ErrKeyTooBig
	MaxValueBytes = index.MaxValueBytes // ErrValueTooBig
)

// typeOf is the index type of K.
func typeOf[K Key]() index.Type {
	var k K
	switch any(k).(type) {
	case uint8:
		return index.U8
	case uint16:
		return index.U16
	case uint32:
		return index.U32
	case uint64:
		return index.U64
	case int8:
		return index.I8
	case int16:
		return index.I16
	case int32:
		return index.I32
	case int64:
		return index.I64
	case float32:
		return index.F32
	case float64:
		return index.F64
	case string:
		return index.String
	case RecordID:
		return index.RecordID
	case Uint128:
		return index.U128
	case Int128:
		return index.I128
	case []byte:
		return index.Bytes
	}
	panic("unreachable: Key has no other types")
}

// encode returns k's order-preserving encoding.
func encode[K Key](k K) []byte {
	switch v := any(k).(type) {
	case uint8:
		return index.AppendUint(nil, uint64(v), 1)
	case uint16:
		return index.AppendUint(nil, uint64(v), 2)
	case uint32:
		return index.AppendUint(nil, uint64(v), 4)
	case uint64:
		return index.AppendUint(nil, v, 8)
	case int8:
		return index.AppendInt(nil, int64(v), 1)
	case int16:
		return index.AppendInt(nil, int64(v), 2)
	case int32:
		return index.AppendInt(nil, int64(v), 4)
	case int64:
		return index.AppendInt(nil, v, 8)
	case float32:
		return index.AppendFloat32(nil, v)
	case float64:
		return index.AppendFloat64(nil, v)
	case string:
		return []byte(v)
	case []byte:
		return append([]byte{}, v...)
	case RecordID:
		return index.AppendUint(index.AppendUint(nil, v.Page, 8), uint64(v.Pos), 4)
	case Uint128:
		return index.AppendUint(index.AppendUint(nil, v.Hi, 8), v.Lo, 8)
	case Int128:
		return index.AppendUint(index.AppendInt(nil, v.Hi, 8), v.Lo, 8)
	}
	panic("unreachable: Key has no other types")
}

// decode reads what encode wrote; b has been checked with
// index.CheckEncoded.
func decode[K Key](b []byte) (K, error) {
	var k K
	if err := index.CheckEncoded(typeOf[K](), b); err != nil {
		return k, &CorruptError{Page: -1, Reason: fmt.Sprintf("an index entry: %v", err)}
	}
	// A switch on a pointer to k sets it in place: boxing each key and
	// value in an interface cost an allocation per entry a range reads.
	switch p := any(&k).(type) {
	case *uint8:
		*p = uint8(index.DecodeUint(b))
	case *uint16:
		*p = uint16(index.DecodeUint(b))
	case *uint32:
		*p = uint32(index.DecodeUint(b))
	case *uint64:
		*p = index.DecodeUint(b)
	case *int8:
		*p = int8(index.DecodeInt(b))
	case *int16:
		*p = int16(index.DecodeInt(b))
	case *int32:
		*p = int32(index.DecodeInt(b))
	case *int64:
		*p = index.DecodeInt(b)
	case *float32:
		*p = index.DecodeFloat32(b)
	case *float64:
		*p = index.DecodeFloat64(b)
	case *string:
		*p = string(b)
	case *[]byte:
		*p = append([]byte{}, b...)
	case *RecordID:
		*p = RecordID{Page: index.DecodeUint(b[:8]), Pos: uint32(index.DecodeUint(b[8:]))}
	case *Uint128:
		*p = Uint128{Hi: index.DecodeUint(b[:8]), Lo: index.DecodeUint(b[8:])}
	case *Int128:
		*p = Int128{Hi: index.DecodeInt(b[:8]), Lo: index.DecodeUint(b[8:])}
	}
	return k, nil
}

// decodeAny reads what encode wrote for a value of type t, as that type
// boxed.
func decodeAny(t index.Type, b []byte) (any, error) {
	switch t {
	case index.U8:
		return boxed[uint8](b)
	case index.U16:
		return boxed[uint16](b)
	case index.U32:
		return boxed[uint32](b)
	case index.U64:
		return boxed[uint64](b)
	case index.I8:
		return boxed[int8](b)
	case index.I16:
		return boxed[int16](b)
	case index.I32:
		return boxed[int32](b)
	case index.I64:
		return boxed[int64](b)
	case index.F32:
		return boxed[float32](b)
	case index.F64:
		return boxed[float64](b)
	case index.String:
		return boxed[string](b)
	case index.Bytes:
		return boxed[[]byte](b)
	case index.RecordID:
		return boxed[RecordID](b)
	case index.U128:
		return boxed[Uint128](b)
	case index.I128:
		return boxed[Int128](b)
	}
	return nil, &CorruptError{Page: -1, Reason: fmt.Sprintf("an index entry of unknown %v", t)}
}

func boxed[K Key](b []byte) (any, error) {
	v, err := decode[K](b)
	if err != nil {
		return nil, err
	}
	return v, nil
}
