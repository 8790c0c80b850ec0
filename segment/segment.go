// Package segment holds the on-disk forms of persy-go's records: the
// catalogue that names every segment and lists its address pages, the
// address pages whose slots point at records and carry their versions,
// the data pages that hold one record each, and the packs that hold
// several small ones (pack.go).
//
// A record's data page or pack is written once, copy-on-write: a new
// version goes to a new page and the slot moves. Address pages and the
// catalogue are written at checkpoints into fresh pages too, so a crash
// leaves every page the durable root state reads exactly as it was when
// that state was stored.
package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

// Geometry of an address page.
const (
	// entryShift places a slot's Entry in its packed Ref, in bits that
	// a Ref's size exponent, at most 20, leaves zero.
	entryShift = 5
	// AddressExp is the size exponent of address pages.
	AddressExp = 12
	slotBytes  = 16
	addrHead   = 16 // the segment id and the page's index in the segment
	// SlotsPerPage is the number of record slots an address page holds.
	SlotsPerPage = (1<<AddressExp - page.HeaderSize - addrHead) / slotBytes
)

// MaxRecordBytes is the largest record: one data page of the largest
// size class.
const MaxRecordBytes = page.MaxBytes - page.HeaderSize

// Slot is one record slot of an address page.
type Slot struct {
	// Data is the record's data page or pack, with the checksum it was
	// written with; the zero Ptr if the slot holds no record or its
	// content is Pending.
	Data page.Ptr
	// Entry is the record's entry in pack Data, from 1; zero if Data is
	// a data page of the record's own.
	Entry uint8
	// Version counts the changes of the slot: every insert, update and
	// delete adds one. Zero is a slot never used.
	Version uint32
	// Live says the slot holds a record.
	Live bool
	// Pending is a record's content applied in memory and not yet on
	// a data page; nil otherwise. Never on disk.
	Pending []byte
}

// EncodeAddress returns the payload of address page index of segment seg.
func EncodeAddress(seg, index uint64, slots *[SlotsPerPage]Slot) []byte {
	b := make([]byte, 0, addrHead+SlotsPerPage*slotBytes)
	b = binary.LittleEndian.AppendUint64(b, seg)
	b = binary.LittleEndian.AppendUint64(b, index)
	for i := range slots {
		s := &slots[i]
		var ref int64
		var sum uint32
		if s.Live {
			ref, sum = s.Data.Pack()|int64(s.Entry)<<entryShift, s.Data.Sum
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(ref))
		b = binary.LittleEndian.AppendUint32(b, s.Version)
		b = binary.LittleEndian.AppendUint32(b, sum)
	}
	return b
}

// ReadAddress reads and checks address page r of segment seg, the
// index-th of its pages, into slots. Every live slot must point at a page
// inside the allocated part of the file, whose allocator end is end.
func ReadAddress(s mmapfile.Storage, r page.Ptr, seg, index uint64, end int64, slots *[SlotsPerPage]Slot) error {
	p, err := address(s, r, seg, index)
	if err != nil {
		return err
	}
	for i := range slots {
		if slots[i], err = decodeSlot(p[i*slotBytes:], i, r.Addr, end); err != nil {
			return err
		}
	}
	return nil
}

// AddressView is the slots of an address page as the file holds them,
// borrowed: valid while the page is neither rewritten nor unmapped.
type AddressView struct {
	b         []byte
	addr, end int64
}

// ViewAddress returns the slots of address page r of segment seg, the
// index-th of its pages, checking each slot as ReadAddress does, with the
// file's size for its end, when Slot reads it. With check it first checks
// the whole page as ReadAddress does (its checksum, header, segment and
// index); without, the caller has done so since the page was written,
// and nothing has written it since: a page a version reads is not reused
// while it does.
func ViewAddress(s mmapfile.Storage, r page.Ptr, seg, index uint64, check bool) (AddressView, error) {
	size := s.Size()
	if check {
		p, err := address(s, r, seg, index)
		if err != nil {
			return AddressView{}, err
		}
		return AddressView{b: p, addr: r.Addr, end: size}, nil
	}
	off := r.Addr + page.HeaderSize + addrHead
	if r.Exp != AddressExp || off+SlotsPerPage*slotBytes > size {
		return AddressView{}, &page.CorruptError{Page: r.Addr, Reason: fmt.Sprintf("no address page of segment %d fits there in a file of %d bytes", seg, size)}
	}
	return AddressView{b: s.Bytes(off, SlotsPerPage*slotBytes), addr: r.Addr, end: size}, nil
}

// Slot decodes slot i of the view.
func (v *AddressView) Slot(i int) (Slot, error) {
	return decodeSlot(v.b[i*slotBytes:], i, v.addr, v.end)
}

// address returns the slots' bytes of address page r of segment seg,
// the index-th of its pages, borrowed, after checking the page.
func address(s mmapfile.Storage, r page.Ptr, seg, index uint64) ([]byte, error) {
	h, p, err := page.ReadPtr(s, r)
	if err != nil {
		return nil, err
	}
	if h.Type != page.TypeAddress || len(p) != addrHead+SlotsPerPage*slotBytes {
		return nil, &page.CorruptError{Page: r.Addr, Reason: fmt.Sprintf("a %v page of %d bytes where address page %d of segment %d belongs", h.Type, h.Bytes(), index, seg)}
	}
	if gs, gi := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[8:]); gs != seg || gi != index {
		return nil, &page.CorruptError{Page: r.Addr, Reason: fmt.Sprintf("address page %d of segment %d where page %d of segment %d belongs", gi, gs, index, seg)}
	}
	return p[addrHead:], nil
}

// decodeSlot decodes slot i from b, of address page addr: a live slot
// must point at a page below end.
func decodeSlot(b []byte, i int, addr, end int64) (Slot, error) {
	b = b[:slotBytes]
	packed := int64(binary.LittleEndian.Uint64(b))
	entry := uint8(packed >> entryShift & MaxPacked)
	ref := page.Unpack(packed &^ (MaxPacked << entryShift))
	ver := binary.LittleEndian.Uint32(b[8:])
	sum := binary.LittleEndian.Uint32(b[12:])
	switch {
	case packed == 0 && sum == 0:
		return Slot{Version: ver}, nil
	case ref.Within(end) && ver > 0 && (entry == 0 || ref.Exp == PackExp):
		return Slot{Data: page.Ptr{Ref: ref, Sum: sum}, Entry: entry, Version: ver, Live: true}, nil
	}
	return Slot{}, badSlot(i, addr, ref, ver, sum)
}

// badSlot is decodeSlot's error, out of line so that decodeSlot inlines.
//
//go:noinline
func badSlot(i int, addr int64, ref page.Ref, ver, sum uint32) error {
	return &page.CorruptError{Page: addr, Reason: fmt.Sprintf("slot %d: page %d of exponent %d, version %d, checksum %#x", i, ref.Addr, ref.Exp, ver, sum)}
}

// DataExp returns the size exponent of the data page holding a record of
// n bytes, false if n is larger than MaxRecordBytes.
func DataExp(n int) (uint8, bool) { return page.ExpFor(n) }

// ReadData returns a copy of record n of segment seg, on data page r
// or, if entry is not zero, in that entry of pack r.
func ReadData(s mmapfile.Storage, r page.Ptr, entry uint8, seg, n uint64) ([]byte, error) {
	p, err := data(s, r, entry, seg, n, page.ReadPayload)
	if err != nil {
		return nil, err
	}
	return append(make([]byte, 0, len(p)), p...), nil
}

// CheckData checks that r and entry hold record n of segment seg as its
// slot expects, without copying it.
func CheckData(s mmapfile.Storage, r page.Ptr, entry uint8, seg, n uint64) error {
	_, err := data(s, r, entry, seg, n, page.ReadPtr)
	return err
}

// data returns record n of segment seg on data page r or in entry of
// pack r, borrowed, read with read: page.ReadPayload for a reader
// (ReadData), page.ReadPtr, which checks the bytes after the payload
// too, for Check (CheckData).
func data(s mmapfile.Storage, r page.Ptr, entry uint8, seg, n uint64, read func(mmapfile.Storage, page.Ptr) (page.Header, []byte, error)) ([]byte, error) {
	if entry != 0 {
		p, err := packOf(s, r, read)
		if err != nil {
			return nil, err
		}
		return packEntryOf(p, r.Addr, entry, seg, n)
	}
	h, p, err := read(s, r)
	if err != nil {
		return nil, err
	}
	if h.Type != page.TypeData {
		return nil, &page.CorruptError{Page: r.Addr, Reason: fmt.Sprintf("a %v page where a data page belongs", h.Type)}
	}
	return p, nil
}
