// Package index holds persy-go's B+trees: the order-preserving encodings
// of keys and values, the node format, the tree's search, split and
// merge, the value modes, and the merge of a transaction's pending
// changes with the committed tree. Nodes are records of a segment, so an
// index inherits journaling, checkpoints, snapshots and recovery from
// segments; this package only sees them through a Source.
package index

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Type names the type of an index's keys or values, persisted as a byte
// (the numbers are Persy's).
type Type uint8

// The types an index key or value may have.
const (
	U8       Type = 1
	U16      Type = 2
	U32      Type = 3
	U64      Type = 4
	I8       Type = 5
	I16      Type = 6
	I32      Type = 7
	I64      Type = 8
	F32      Type = 9
	F64      Type = 10
	String   Type = 12
	RecordID Type = 13
	U128     Type = 14
	I128     Type = 15
	Bytes    Type = 16
)

var typeNames = map[Type]string{
	U8: "uint8", U16: "uint16", U32: "uint32", U64: "uint64",
	I8: "int8", I16: "int16", I32: "int32", I64: "int64",
	F32: "float32", F64: "float64", String: "string", RecordID: "RecordID",
	U128: "Uint128", I128: "Int128", Bytes: "[]byte",
}

// String names the type as Go spells it.
func (t Type) String() string {
	if n, ok := typeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Valid reports whether t is one of the types above. It is asked for
// every key and value an index hands out, so it is a switch, not a
// look-up in typeNames.
func (t Type) Valid() bool {
	switch t {
	case U8, U16, U32, U64, I8, I16, I32, I64, F32, F64, String, RecordID, U128, I128, Bytes:
		return true
	}
	return false
}

// fixedBytes is the encoded size of a fixed-size type, 0 for variable.
func (t Type) fixedBytes() int {
	switch t {
	case U8, I8:
		return 1
	case U16, I16:
		return 2
	case U32, I32, F32:
		return 4
	case U64, I64, F64:
		return 8
	case U128, I128:
		return 16
	case RecordID:
		return 12
	}
	return 0
}

// Limits on encoded keys and values. A node holds at least two entries
// whatever their size, so these bound a node's record too.
const (
	MaxKeyBytes   = 1024
	MaxValueBytes = 1024
)

// Encodings. Each is order preserving: for two values a and b of one
// type, a < b exactly when bytes.Compare(enc(a), enc(b)) < 0. Integers are
// big-endian, signed ones with the sign bit flipped; 128-bit integers are
// the high then the low half. Floats are ordered by IEEE 754 totalOrder:
// negative NaNs, -Inf, the negatives, -0, +0, the positives, +Inf,
// positive NaNs; so -0 and +0 are distinct keys, and so are NaNs of
// different payloads, each decoding to its own bits. Strings and byte
// slices are their bytes (nodes delimit them, so no escaping is needed).
// A RecordID is its page (8 bytes) then its position (4 bytes).

// AppendUint appends an unsigned integer of n bytes.
func AppendUint(b []byte, v uint64, n int) []byte {
	for i := n - 1; i >= 0; i-- {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

// AppendInt appends a signed integer of n bytes.
func AppendInt(b []byte, v int64, n int) []byte {
	return AppendUint(b, uint64(v)^1<<(8*n-1), n)
}

// DecodeUint reads an unsigned integer of len(b) bytes.
func DecodeUint(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// DecodeInt reads a signed integer of len(b) bytes.
func DecodeInt(b []byte) int64 {
	n := len(b)
	u := DecodeUint(b) ^ 1<<(8*n-1)
	// Sign-extend from n bytes.
	shift := 64 - 8*n
	return int64(u<<shift) >> shift
}

func floatKey(bits uint64, sign uint64) uint64 {
	if bits&sign != 0 {
		return ^bits
	}
	return bits | sign
}

func floatBits(k uint64, sign uint64) uint64 {
	if k&sign != 0 {
		return k &^ sign
	}
	return ^k
}

// AppendFloat64 appends f in totalOrder.
func AppendFloat64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(b, floatKey(math.Float64bits(f), 1<<63))
}

// DecodeFloat64 reads what AppendFloat64 wrote.
func DecodeFloat64(b []byte) float64 {
	return math.Float64frombits(floatBits(binary.BigEndian.Uint64(b), 1<<63))
}

// AppendFloat32 appends f in totalOrder.
func AppendFloat32(b []byte, f float32) []byte {
	return binary.BigEndian.AppendUint32(b, uint32(floatKey(uint64(math.Float32bits(f)), 1<<31)&math.MaxUint32))
}

// DecodeFloat32 reads what AppendFloat32 wrote.
func DecodeFloat32(b []byte) float32 {
	return math.Float32frombits(uint32(floatBits(uint64(binary.BigEndian.Uint32(b)), 1<<31) & math.MaxUint32))
}

// CheckEncoded reports whether b can be an encoded key or value of type
// t: the right length for fixed types, any bytes for the others.
func CheckEncoded(t Type, b []byte) error {
	if n := t.fixedBytes(); n != 0 && len(b) != n {
		return fmt.Errorf("a %v of %d bytes", t, len(b))
	}
	if !t.Valid() {
		return fmt.Errorf("unknown type %d", uint8(t))
	}
	return nil
}
