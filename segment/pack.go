package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

// Packs. A checkpoint writes the small records it writes for a segment
// into shared pages of the smallest class, packs, rather than one page
// each: four records of 100 bytes take one 512-byte page instead of
// four. A pack is written once, copy-on-write like every data page, and
// a slot names its record by the pack and the entry's index
// (Slot.Entry). The pack's checksum, which every slot naming it holds,
// covers every entry, and each entry names the slot it was written for,
// so a slot that names the wrong entry reads as a *CorruptError, never
// as another record.
//
// A pack is freed once no slot of the checkpointed version names it:
// when a record leaves a pack (updated, deleted, its segment dropped),
// the next checkpoint reads the pack's entries and looks up their slots
// (PackSlots). A pack so stays as long as one of its records does, at
// most MaxPacked pages' worth of records held by one page of the
// smallest class.
//
// The payload of a pack: the segment id (u64), the number of entries
// (u16), then per entry its slot (u64) and length (u16), then the
// entries' bytes in order.
const (
	// PackExp is the size exponent of packs.
	PackExp = page.MinExp
	// MaxPacked is the most entries a pack holds: Slot.Entry's four
	// bits, zero meaning a page of the record's own.
	MaxPacked  = 15
	packHead   = 8 + 2
	packEntry  = 8 + 2
	packsBytes = 1<<PackExp - page.HeaderSize
	// MaxPackedBytes is the largest record a pack takes.
	MaxPackedBytes = packsBytes - packHead - packEntry
)

// Packer gathers the small records of one segment that a checkpoint
// writes into packs: Add them in order, then Flush. Each pack that fills
// is written as it fills; a pack of one record is written as the
// record's own page.
type Packer struct {
	seg     uint64
	slots   []uint64
	entries []*Slot
	bytes   int
	write   func(exp uint8, typ page.Type, payload []byte) (page.Ptr, error)
}

// NewPacker returns a Packer for segment seg whose pages write writes:
// it allocates a page of the class exp, writes payload there as a page
// of type typ, and returns its Ptr.
func NewPacker(seg uint64, write func(exp uint8, typ page.Type, payload []byte) (page.Ptr, error)) *Packer {
	return &Packer{seg: seg, bytes: packHead, write: write}
}

// Packable reports whether a record of n bytes goes into a pack.
func Packable(n int) bool { return n <= MaxPackedBytes }

// Add puts the pending record of sl, slot n of the segment, which must
// be Packable, in the current pack, writing the pack first if it has no
// room left. sl's Data and Entry are set once the pack that takes it is
// written, and its Pending cleared.
func (p *Packer) Add(n uint64, sl *Slot) error {
	if !Packable(len(sl.Pending)) {
		return fmt.Errorf("segment: a record of %d bytes in a pack", len(sl.Pending))
	}
	if len(p.entries) == MaxPacked || p.bytes+packEntry+len(sl.Pending) > packsBytes {
		if err := p.Flush(); err != nil {
			return err
		}
	}
	p.slots = append(p.slots, n)
	p.entries = append(p.entries, sl)
	p.bytes += packEntry + len(sl.Pending)
	return nil
}

// Flush writes the current pack, if it holds any record.
func (p *Packer) Flush() error {
	switch len(p.entries) {
	case 0:
		return nil
	case 1:
		sl := p.entries[0]
		exp, _ := DataExp(len(sl.Pending))
		ptr, err := p.write(exp, page.TypeData, sl.Pending)
		if err != nil {
			return err
		}
		sl.Data, sl.Entry, sl.Pending = ptr, 0, nil
	default:
		b := make([]byte, 0, p.bytes)
		b = binary.LittleEndian.AppendUint64(b, p.seg)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.entries)))
		for i, sl := range p.entries {
			b = binary.LittleEndian.AppendUint64(b, p.slots[i])
			b = binary.LittleEndian.AppendUint16(b, uint16(len(sl.Pending)))
		}
		for _, sl := range p.entries {
			b = append(b, sl.Pending...)
		}
		ptr, err := p.write(PackExp, page.TypePack, b)
		if err != nil {
			return err
		}
		for i, sl := range p.entries {
			sl.Data, sl.Entry, sl.Pending = ptr, uint8(i+1), nil
		}
	}
	p.slots, p.entries, p.bytes = p.slots[:0], p.entries[:0], packHead
	return nil
}

// PackSlots returns the segment and the slots of the entries of pack r,
// after checking it as a reader does.
func PackSlots(s mmapfile.Storage, r page.Ptr) (seg uint64, slots []uint64, err error) {
	p, err := packOf(s, r, page.ReadPayload)
	if err != nil {
		return 0, nil, err
	}
	seg, n := binary.LittleEndian.Uint64(p), int(binary.LittleEndian.Uint16(p[8:]))
	for i := range n {
		slots = append(slots, binary.LittleEndian.Uint64(p[packHead+i*packEntry:]))
	}
	return seg, slots, nil
}

// PackedLen returns the length of record n of segment seg, in entry of
// pack r, and the number of the pack's entries, after checking the pack
// as a reader does.
func PackedLen(s mmapfile.Storage, r page.Ptr, entry uint8, seg, n uint64) (size, entries int, err error) {
	p, err := packOf(s, r, page.ReadPayload)
	if err != nil {
		return 0, 0, err
	}
	d, err := packEntryOf(p, r.Addr, entry, seg, n)
	if err != nil {
		return 0, 0, err
	}
	return len(d), int(binary.LittleEndian.Uint16(p[8:])), nil
}

// packOf returns the payload of pack r, borrowed, read with read, after
// checking that its table of entries is whole: every entry's bytes
// within the payload, exactly filling it.
func packOf(s mmapfile.Storage, r page.Ptr, read func(mmapfile.Storage, page.Ptr) (page.Header, []byte, error)) ([]byte, error) {
	h, p, err := read(s, r)
	if err != nil {
		return nil, err
	}
	if h.Type != page.TypePack {
		return nil, &page.CorruptError{Page: r.Addr, Reason: fmt.Sprintf("a %v page where a pack belongs", h.Type)}
	}
	if len(p) < packHead {
		return nil, badPack(r.Addr, "a payload of %d bytes", len(p))
	}
	n := int(binary.LittleEndian.Uint16(p[8:]))
	if n < 2 || n > MaxPacked || packHead+n*packEntry > len(p) {
		return nil, badPack(r.Addr, "%d entries in a payload of %d bytes", n, len(p))
	}
	total := packHead + n*packEntry
	for i := range n {
		total += int(binary.LittleEndian.Uint16(p[packHead+i*packEntry+8:]))
	}
	if total != len(p) {
		return nil, badPack(r.Addr, "entries of %d bytes in a payload of %d", total, len(p))
	}
	return p, nil
}

func badPack(addr int64, format string, a ...any) error {
	return &page.CorruptError{Page: addr, Reason: "pack: " + fmt.Sprintf(format, a...)}
}

// packEntryOf returns entry e (from 1) of pack payload p, which packOf
// checked, if it is slot n of segment seg.
func packEntryOf(p []byte, addr int64, e uint8, seg, n uint64) ([]byte, error) {
	count := int(binary.LittleEndian.Uint16(p[8:]))
	i := int(e) - 1
	if i < 0 || i >= count {
		return nil, badPack(addr, "entry %d of %d", e, count)
	}
	off := packHead + count*packEntry
	for j := range i {
		off += int(binary.LittleEndian.Uint16(p[packHead+j*packEntry+8:]))
	}
	gs, gn := binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[packHead+i*packEntry:])
	if gs != seg || gn != n {
		return nil, badPack(addr, "entry %d holds record %d of segment %d where record %d of segment %d is linked", e, gn, gs, n, seg)
	}
	size := int(binary.LittleEndian.Uint16(p[packHead+i*packEntry+8:]))
	return p[off : off+size], nil
}

// Reader reads records as ReadData does, checking a pack once for a run
// of its records read one after another, as a scan reads them. It keeps
// the pack's bytes borrowed from s: a Reader lives no longer than its
// caller's hold on the pages it reads, and a pack, written once, does not
// change while a slot that names it is read.
//
// The copies it returns of small records share blocks of readerBlock
// bytes, one allocation for many records: a record kept keeps its block,
// and a copy's capacity ends with it, so that an append to one never
// writes over the next.
type Reader struct {
	S     mmapfile.Storage
	pack  page.Ptr
	p     []byte
	block []byte
}

// readerBlock is the size of the blocks a Reader copies small records
// into; a record of more than an eighth of it gets its own.
const readerBlock = 8 << 10

// Read returns a copy of record n of segment seg, on data page r or, if
// entry is not zero, in that entry of pack r.
func (rd *Reader) Read(r page.Ptr, entry uint8, seg, n uint64) ([]byte, error) {
	if entry == 0 {
		d, err := data(rd.S, r, entry, seg, n, page.ReadPayload)
		if err != nil {
			return nil, err
		}
		return rd.clone(d), nil
	}
	if rd.p == nil || rd.pack != r {
		p, err := packOf(rd.S, r, page.ReadPayload)
		if err != nil {
			return nil, err
		}
		rd.pack, rd.p = r, p
	}
	d, err := packEntryOf(rd.p, r.Addr, entry, seg, n)
	if err != nil {
		return nil, err
	}
	return rd.clone(d), nil
}

// clone returns a copy of d, never nil.
func (rd *Reader) clone(d []byte) []byte {
	if len(d) == 0 {
		return []byte{}
	}
	if len(d) > readerBlock/8 {
		return append(make([]byte, 0, len(d)), d...)
	}
	if cap(rd.block)-len(rd.block) < len(d) {
		rd.block = make([]byte, 0, readerBlock)
	}
	start := len(rd.block)
	rd.block = append(rd.block, d...)
	return rd.block[start:len(rd.block):len(rd.block)]
}
