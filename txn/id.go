package txn

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gopersy/persy/segment"
)

// RecordID names a record in its segment, for as long as the record
// lives: the address page it sits on (counted from 1) and its slot there.
// The zero RecordID names no record. After a delete commits, its id may
// name a record inserted later.
type RecordID struct {
	Page uint64
	Pos  uint32
}

// slot is the id's slot number in its segment.
func (id RecordID) slot() (uint64, bool) {
	if id.Page == 0 || id.Pos >= segment.SlotsPerPage || id.Page > 1<<40 {
		return 0, false
	}
	return (id.Page-1)*segment.SlotsPerPage + uint64(id.Pos), true
}

func idOfSlot(n uint64) RecordID {
	return RecordID{Page: n/segment.SlotsPerPage + 1, Pos: uint32(n % segment.SlotsPerPage)}
}

// MarshalBinary returns the id's stable binary form: two uvarints.
func (id RecordID) MarshalBinary() ([]byte, error) {
	return id.AppendBinary(nil)
}

// AppendBinary appends the id's binary form to b.
func (id RecordID) AppendBinary(b []byte) ([]byte, error) {
	b = binary.AppendUvarint(b, id.Page)
	return binary.AppendUvarint(b, uint64(id.Pos)), nil
}

// UnmarshalBinary reads the form MarshalBinary writes.
func (id *RecordID) UnmarshalBinary(b []byte) error {
	page, n := binary.Uvarint(b)
	if n <= 0 {
		return fmt.Errorf("persy: bad record id %x", b)
	}
	pos, m := binary.Uvarint(b[n:])
	if m <= 0 || n+m != len(b) || pos > 1<<32-1 {
		return fmt.Errorf("persy: bad record id %x", b)
	}
	*id = RecordID{Page: page, Pos: uint32(pos)}
	return nil
}

var idText = base32.HexEncoding.WithPadding(base32.NoPadding)

// String returns the id's stable text form: its binary form in lower-case
// base32 (extended hex alphabet), which reads and copies well. Neither
// form sorts in id order: the uvarints are little-endian groups of bits.
func (id RecordID) String() string {
	b, _ := id.MarshalBinary()
	return strings.ToLower(idText.EncodeToString(b))
}

// MarshalText returns the form String returns.
func (id RecordID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText reads the form String returns.
func (id *RecordID) UnmarshalText(t []byte) error {
	b, err := idText.DecodeString(strings.ToUpper(string(t)))
	if err != nil {
		return fmt.Errorf("persy: bad record id %q", t)
	}
	return id.UnmarshalBinary(b)
}

// ParseRecordID reads an id in the form String returns.
func ParseRecordID(s string) (RecordID, error) {
	var id RecordID
	err := id.UnmarshalText([]byte(s))
	return id, err
}
