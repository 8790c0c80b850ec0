// Package page is persy-go's page geometry: every page of a file starts
// with a header carrying its size class, its type, its own address, the
// sequence number it was written under and a CRC32C of the whole page, so
// that a torn, stale, misdirected or corrupt page is detected instead of
// decoded. An all-zero page is never valid.
//
// Pages come in power-of-two size classes from MinBytes to MaxBytes. The
// smallest is a sector: a page never shares a sector with another, so a
// sector torn to garbage while one page is written never damages a
// neighbour. The largest is one Storage view.
package page

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"iter"

	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/mmapfile"
)

// Size classes: a page of class c holds 1<<(MinExp+c) bytes.
const (
	MinExp     = 9  // 512 bytes, one sector
	MaxExp     = 20 // 1 MiB, one Storage view
	Classes    = MaxExp - MinExp + 1
	MinBytes   = 1 << MinExp
	MaxBytes   = 1 << MaxExp
	HeaderSize = 32 // bytes of header at the start of every page
)

// The header's layout.
const (
	crcOff   = 0  // u32 CRC32C of bytes [4, size)
	expOff   = 4  // u8 size exponent
	typeOff  = 5  // u8 Type
	zeroOff  = 6  // u16, zero
	addrOff  = 8  // u64 the page's own address
	seqOff   = 16 // u64 the sequence number it was written under
	usedOff  = 24 // u32 payload bytes in use
	stampOff = 28 // u32 the write's stamp on a stamped page, zero on others
)

// StampBytes is the size of a stamp. A stamped page carries its write's
// stamp, a checksum of what that write put in the page, in its header and
// in the last StampBytes bytes of every later sector; its payload fills
// the rest, in order. The pages written in place are stamped: the
// journal's, whose addresses a writer resumed after a crash writes
// again, and the root slots.
//
// The stamps keep a page torn across two writes from validating. A
// crash may leave at such an address a page torn between an old write
// and the one before it; a later write of the same page there, torn by
// another crash the other way, could complete it: where both writes hold
// the same bytes (the zeros past a small payload, or a payload written
// again), the old header's checksum vouches for the new write's sectors.
// With stamps no sector of one write equals the same sector of another
// unless everything the two wrote is the same, so a page is valid only
// as one write, whole. Scrubbing the first sector before reuse keeps the
// same rule, but a device that loses the scrubbing write brings the old
// header back; the stamps need no write to be kept.
const StampBytes = 4

func stamped(t Type) bool {
	return t == TypeRootSlot || t == TypeJournal && !mutant.On(mutant.JournalReuseUnscrubbed) && !mutant.On(mutant.JournalPagesUnstamped)
}

// Type says what a page holds.
type Type uint8

// The page types. Zero is not a type: an all-zero page is never valid.
const (
	TypeRoot     Type = iota + 1 // the file's first page: magic and format version
	TypeRootSlot                 // one of the two copies of the root state
	TypeFree                     // a free page on its class's free list
	TypeJournal                  // a page of the journal
	TypeData                     // a record's data
	TypeAddress                  // a segment's address slots
	TypeIndex                    // reserved: index nodes are records, on data pages and packs
	TypeCatalog                  // a page of the catalogue of segments
	TypePack                     // small records of one segment, packed
	typeEnd
)

var typeNames = [...]string{TypeRoot: "root", TypeRootSlot: "root slot", TypeFree: "free", TypeJournal: "journal",
	TypeData: "data", TypeAddress: "address", TypeIndex: "index", TypeCatalog: "catalogue", TypePack: "pack"}

// String names the type, or typeN for a value that is no type.
func (t Type) String() string {
	if t > 0 && t < typeEnd {
		return typeNames[t]
	}
	return fmt.Sprintf("type%d", uint8(t))
}

// ErrNotPersyFile is returned for a file that is not a persy-go file: no
// root page with the magic tag, as with a foreign file, an empty file or
// a file of zeros.
var ErrNotPersyFile = errors.New("persy: not a persy-go file")

// CorruptError reports a page that fails its checks: a torn or corrupt
// page, a stale one, one written elsewhere, one beyond the file.
type CorruptError struct {
	Page   int64  // the page's address
	Reason string // what is wrong with it
}

// Error says which page is corrupt and why.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("persy: corrupt page at %d: %s", e.Page, e.Reason)
}

func corrupt(addr int64, format string, a ...any) *CorruptError {
	return &CorruptError{Page: addr, Reason: fmt.Sprintf(format, a...)}
}

// Header is what a page says about itself.
type Header struct {
	Exp  uint8  // the page holds 1<<Exp bytes
	Type Type   // what it holds
	Addr int64  // its own address
	Seq  uint64 // the sequence number it was written under
	Used int    // payload bytes in use, at most CapacityOf(Type, Exp)
}

// Bytes is the page's size.
func (h Header) Bytes() int { return 1 << h.Exp }

// Capacity is the payload a page of size exponent exp holds, for every
// type but the stamped ones (see CapacityOf).
func Capacity(exp uint8) int { return 1<<exp - HeaderSize }

// CapacityOf is the payload a page of type t and size exponent exp holds.
func CapacityOf(t Type, exp uint8) int {
	if stamped(t) {
		return Capacity(exp) - StampBytes*(1<<(exp-MinExp)-1)
	}
	return Capacity(exp)
}

// ExpFor returns the smallest size exponent whose page holds n payload
// bytes, or false if no page does.
func ExpFor(n int) (uint8, bool) {
	for e := uint8(MinExp); e <= MaxExp; e++ {
		if n <= Capacity(e) {
			return e, true
		}
	}
	return 0, false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Encode builds a page from h and payload into buf, which must hold
// exactly h.Bytes() bytes; h.Used is set to len(payload). The bytes after
// the payload are zeroed.
func Encode(buf []byte, h Header, payload []byte) error {
	if h.Exp < MinExp || h.Exp > MaxExp {
		return fmt.Errorf("page: size exponent %d outside [%d, %d]", h.Exp, MinExp, MaxExp)
	}
	if len(buf) != h.Bytes() {
		return fmt.Errorf("page: buffer of %d bytes for a page of %d", len(buf), h.Bytes())
	}
	if h.Type == 0 || h.Type >= typeEnd {
		return fmt.Errorf("page: no page type %d", h.Type)
	}
	if c := CapacityOf(h.Type, h.Exp); len(payload) > c {
		return fmt.Errorf("page: %d payload bytes exceed a %d-byte %v page's %d", len(payload), h.Bytes(), h.Type, c)
	}
	if h.Addr < 0 || h.Addr%MinBytes != 0 {
		return fmt.Errorf("page: address %d is not a multiple of %d", h.Addr, MinBytes)
	}
	clear(buf[:HeaderSize])
	buf[expOff] = h.Exp
	buf[typeOff] = byte(h.Type)
	binary.LittleEndian.PutUint64(buf[addrOff:], uint64(h.Addr))
	binary.LittleEndian.PutUint64(buf[seqOff:], h.Seq)
	binary.LittleEndian.PutUint32(buf[usedOff:], uint32(len(payload)))
	if stamped(h.Type) {
		stampPage(buf, payload)
	} else {
		n := copy(buf[HeaderSize:], payload)
		clear(buf[HeaderSize+n:])
	}
	binary.LittleEndian.PutUint32(buf[crcOff:], crc32.Checksum(summed(buf, h.Type, len(payload)), castagnoli))
	return nil
}

// summed returns the bytes of page buf its checksum covers: its header
// from the size byte on and, for a page of type t written once, its used
// payload bytes, the zero bytes after them being checked one by one
// instead, which costs less (a small record's page is mostly zeros); a
// page written in place (a journal page or a root slot, stamped or not)
// whole. A used count the page cannot hold gives the whole page, whose
// checksum then fails.
func summed(buf []byte, t Type, used int) []byte {
	if t == TypeJournal || t == TypeRootSlot || used < 0 || used > len(buf)-HeaderSize {
		return buf[expOff:]
	}
	return buf[expOff : HeaderSize+used]
}

// stampPage lays payload out in buf, a stamped page whose header fields
// are filled, and stamps every sector. The stamp is a checksum of the
// header fields and the payload, never zero (a zeroed sector bears no
// stamp).
func stampPage(buf, payload []byte) {
	stamp := crc32.Update(crc32.Checksum(buf[expOff:stampOff], castagnoli), castagnoli, payload)
	if stamp == 0 {
		stamp = 1
	}
	binary.LittleEndian.PutUint32(buf[stampOff:], stamp)
	for off, end := range stampedSpans(len(buf)) {
		if end%MinBytes != 0 { // a later sector: its stamp follows
			binary.LittleEndian.PutUint32(buf[end:], stamp)
		}
		n := copy(buf[off:end], payload)
		clear(buf[off+n : end])
		payload = payload[n:]
	}
}

// unstamp checks the stamps of the stamped page in buf, whose checksum
// holds, and returns its payload of used bytes, copied out of buf.
func unstamp(buf []byte, addr int64, used int) ([]byte, error) {
	stamp := binary.LittleEndian.Uint32(buf[stampOff:])
	if stamp == 0 {
		return nil, corrupt(addr, "a stamped page with no stamp")
	}
	payload := make([]byte, 0, used)
	for off, end := range stampedSpans(len(buf)) {
		if end%MinBytes != 0 { // a later sector: its stamp follows
			if got := binary.LittleEndian.Uint32(buf[end:]); got != stamp {
				return nil, corrupt(addr, "sector %d bears stamp %08x, the page %08x (a page torn across two writes)", off/MinBytes, got, stamp)
			}
		}
		n := min(end-off, used-len(payload))
		payload = append(payload, buf[off:off+n]...)
		if !allZero(buf[off+n : end]) {
			return nil, corrupt(addr, "bytes after the payload are not zero")
		}
	}
	return payload, nil
}

// stampedSpans yields, in order, the byte ranges [off, end) of a stamped
// page of size bytes that hold payload: the first sector after the
// header, and every later sector but its last StampBytes, where its
// stamp sits at end.
func stampedSpans(size int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		if !yield(HeaderSize, min(MinBytes, size)) {
			return
		}
		for sector := MinBytes; sector < size; sector += MinBytes {
			if !yield(sector, sector+MinBytes-StampBytes) {
				return
			}
		}
	}
}

// Decode checks the page in buf, read from address addr, and returns its
// header and its payload (a slice of buf; a copy for a stamped page).
// Every check failing is a *CorruptError: a size that does not match, an
// unknown type, a CRC mismatch, an address other than addr (a misdirected
// write), a payload longer than the page, reserved header bytes or bytes
// after the payload that are not zero, a stamp missing or unlike the
// header's.
func Decode(buf []byte, addr int64) (Header, []byte, error) {
	return decode(buf, addr, true)
}

// decode is Decode; without tail, it leaves the bytes after the payload
// of a page written once unread (see ReadPayload).
func decode(buf []byte, addr int64, tail bool) (Header, []byte, error) {
	if len(buf) < HeaderSize {
		return Header{}, nil, corrupt(addr, "%d bytes, shorter than a header", len(buf))
	}
	h := parseHeader(buf)
	switch {
	case h.Exp < MinExp || h.Exp > MaxExp:
		return h, nil, corrupt(addr, "size exponent %d outside [%d, %d]", h.Exp, MinExp, MaxExp)
	case len(buf) != h.Bytes():
		return h, nil, corrupt(addr, "a %d-byte page read as %d bytes", h.Bytes(), len(buf))
	}
	if got, want := crc32.Checksum(summed(buf, h.Type, h.Used), castagnoli), binary.LittleEndian.Uint32(buf[crcOff:]); got != want {
		return h, nil, corrupt(addr, "checksum %08x, the page says %08x (torn or corrupt)", got, want)
	}
	switch {
	case h.Type == 0 || h.Type >= typeEnd:
		return h, nil, corrupt(addr, "unknown page type %d", uint8(h.Type))
	case h.Addr != addr:
		return h, nil, corrupt(addr, "the page says it belongs at %d (a misdirected write)", h.Addr)
	case binary.LittleEndian.Uint16(buf[zeroOff:]) != 0 || !stamped(h.Type) && binary.LittleEndian.Uint32(buf[stampOff:]) != 0:
		return h, nil, corrupt(addr, "reserved header bytes are not zero")
	case h.Used > CapacityOf(h.Type, h.Exp):
		return h, nil, corrupt(addr, "%d payload bytes in a page holding %d", h.Used, CapacityOf(h.Type, h.Exp))
	case stamped(h.Type):
		p, err := unstamp(buf, addr, h.Used)
		return h, p, err
	case tail && !allZero(buf[HeaderSize+h.Used:]):
		return h, nil, corrupt(addr, "bytes after the payload are not zero")
	}
	return h, buf[HeaderSize : HeaderSize+h.Used], nil
}

// RawHeader parses the header fields of the bytes b, a page's first
// HeaderSize bytes or more, checking nothing but the size exponent and
// the type: what a page's first sector claims, whether or not the rest of
// the page bears it out (a torn page's header may name a page that never
// reached the disk whole). It returns false if b is too short or names
// no size class or type.
func RawHeader(b []byte) (Header, bool) {
	if len(b) < HeaderSize {
		return Header{}, false
	}
	h := parseHeader(b)
	ok := h.Exp >= MinExp && h.Exp <= MaxExp && h.Type > 0 && h.Type < typeEnd
	return h, ok
}

// parseHeader reads the header fields of b, which holds HeaderSize bytes
// or more, checking nothing.
func parseHeader(b []byte) Header {
	return Header{
		Exp:  b[expOff],
		Type: Type(b[typeOff]),
		Addr: int64(binary.LittleEndian.Uint64(b[addrOff:])),
		Seq:  binary.LittleEndian.Uint64(b[seqOff:]),
		Used: int(binary.LittleEndian.Uint32(b[usedOff:])),
	}
}

// Misplaced reports whether the bytes at addr are a page passing every
// check of Decode that says it belongs at another address, and where:
// what a misdirected write leaves. A crash never does. A torn write fails
// the checksum and old content says addr, since every page written at
// addr says addr; only payload bytes of a larger page that once covered
// addr could forge one, by holding a whole valid page with its checksum.
//
// It reads the header before it checks anything costly: journal recovery
// probes every sector of an OS page this way, most of them holding no
// page or a page of their own.
func Misplaced(s mmapfile.Storage, addr int64) (int64, bool) {
	size := s.Size()
	if addr < 0 || addr%MinBytes != 0 || addr > size-HeaderSize {
		return 0, false
	}
	h, ok := RawHeader(s.Bytes(addr, HeaderSize))
	if !ok || h.Addr == addr || addr > size-int64(h.Bytes()) { // no page there, its own, or past the end
		return 0, false
	}
	if _, _, err := Decode(s.Bytes(addr, h.Bytes()), h.Addr); err != nil {
		return 0, false
	}
	return h.Addr, true
}

// Read reads and checks the page at addr of s. The payload is borrowed:
// a view of s, valid until s is closed and changed by later writes (a
// copy for a stamped page).
func Read(s mmapfile.Storage, addr int64) (Header, []byte, error) {
	size := s.Size()
	if addr < 0 || addr%MinBytes != 0 || addr > size-HeaderSize {
		return Header{}, nil, corrupt(addr, "no page can start there in a file of %d bytes", size)
	}
	exp := s.Bytes(addr+expOff, 1)[0]
	if mutant.On(mutant.ZeroPageValid) && exp == 0 && addr <= size-MinBytes && allZero(s.Bytes(addr, MinBytes)) {
		return Header{Exp: MinExp, Type: TypeFree, Addr: addr}, nil, nil // unwritten space, taken for an empty free page
	}
	if exp < MinExp || exp > MaxExp {
		return Header{}, nil, corrupt(addr, "size exponent %d outside [%d, %d]", exp, MinExp, MaxExp)
	}
	if n := int64(1) << exp; addr > size-n {
		return Header{}, nil, corrupt(addr, "a %d-byte page past the end of a file of %d bytes", n, size)
	}
	return Decode(s.Bytes(addr, 1<<exp), addr)
}

// Probe is Read for a caller that expects to find no page there and
// needs no reason: it returns false where Read returns an error. It
// rejects a slot whose header names no page size or type before it builds
// anything, so probing unwritten or zeroed space allocates nothing:
// recovery probes where the journal would go on and every spare.
func Probe(s mmapfile.Storage, addr int64) (Header, []byte, bool) {
	size := s.Size()
	if addr < 0 || addr%MinBytes != 0 || addr > size-HeaderSize {
		return Header{}, nil, false
	}
	if _, ok := RawHeader(s.Bytes(addr, HeaderSize)); !ok {
		return Header{}, nil, false
	}
	h, p, err := Read(s, addr)
	return h, p, err == nil
}

// Write encodes a page and writes it at h.Addr of s through buf, which
// must hold h.Bytes() bytes. It does not sync.
func Write(s mmapfile.Storage, buf []byte, h Header, payload []byte) error {
	_, err := WritePtr(s, buf, h, payload)
	return err
}

// WritePtr is Write returning the reference to the page written: what a
// page linking to it must hold.
func WritePtr(s mmapfile.Storage, buf []byte, h Header, payload []byte) (Ptr, error) {
	if err := Encode(buf, h, payload); err != nil {
		return Ptr{}, err
	}
	p := Ptr{Ref: Ref{Addr: h.Addr, Exp: h.Exp}, Sum: binary.LittleEndian.Uint32(buf[crcOff:])}
	return p, s.WriteAt(buf, h.Addr)
}

// Sum returns the checksum the header of the page at addr of s holds,
// which must be in the file; a valid page's is what a Ptr to it holds.
func Sum(s mmapfile.Storage, addr int64) uint32 {
	return binary.LittleEndian.Uint32(s.Bytes(addr+crcOff, 4))
}

// Ptr is a reference to a page with what it expects to find there: the
// page's checksum as it was written. Every page that links to another
// holds a Ptr, so that a stale page (a write the device acknowledged and
// lost, leaving an older version of the page), or another page's image
// put there by a misdirected write or a reuse, reads as a *CorruptError
// instead of as the data the link meant, as ZFS's block pointers do. The
// page's own checksum and address catch torn and misplaced pages; the
// Ptr catches a page that is whole and in its place but not the one
// linked to.
type Ptr struct {
	Ref
	Sum uint32 // the CRC32C the page's header holds
}

// ReadPtr reads and checks the page p names, as Read does, and checks
// that it is the page p expects: its size class and its checksum. The
// payload is borrowed, as with Read.
func ReadPtr(s mmapfile.Storage, p Ptr) (Header, []byte, error) {
	return readPtr(s, p, true)
}

// ReadPayload is ReadPtr for a reader of the payload alone: it leaves
// unread the zero bytes after the payload of a page written once, which
// its checksum does not cover and no reader reads. What it returns is
// checked as ReadPtr checks it (the checksum over the header and the
// payload, the one p expects); damage to those bytes alone goes
// unreported here, and ReadPtr, Check's way, reports it. For a small
// record in a larger page, the bytes after it are most of the page:
// most of the memory a random read touches.
func ReadPayload(s mmapfile.Storage, p Ptr) (Header, []byte, error) {
	return readPtr(s, p, false)
}

func readPtr(s mmapfile.Storage, p Ptr, tail bool) (Header, []byte, error) {
	// The page as p expects it, through one view of the file; a page
	// that is not of p's size takes Read's way, for Read's errors.
	var b []byte
	if size := s.Size(); p.Exp >= MinExp && p.Exp <= MaxExp && p.Addr >= 0 && p.Addr%MinBytes == 0 && p.Addr <= size-p.Bytes() {
		b = s.Bytes(p.Addr, int(p.Bytes()))
	}
	var h Header
	var payload []byte
	var err error
	if b != nil && b[expOff] == p.Exp {
		h, payload, err = decode(b, p.Addr, tail)
	} else {
		h, payload, err = Read(s, p.Addr)
	}
	if err != nil {
		return h, nil, err
	}
	if h.Exp != p.Exp {
		return h, nil, corrupt(p.Addr, "a page of %d bytes where a page of %d bytes is linked", h.Bytes(), p.Bytes())
	}
	if b == nil { // the file grew since the view was not taken
		b = s.Bytes(p.Addr, int(p.Bytes()))
	}
	if sum := binary.LittleEndian.Uint32(b[crcOff:]); sum != p.Sum && !mutant.On(mutant.ReferencesUnchecked) {
		return h, nil, corrupt(p.Addr, "a %v page of sequence %d with checksum %08x where the link expects %08x: a stale page, a lost write or another page's image", h.Type, h.Seq, sum, p.Sum)
	}
	return h, payload, nil
}

// zeros is what allZero compares against, a chunk at a time.
var zeros [4096]byte

// allZero reports whether p holds only zero bytes. It compares a chunk at
// a time with bytes.Equal, whose vector loop is several times faster than
// a loop over words for the few hundred bytes after a small payload.
func allZero(p []byte) bool {
	for len(p) > len(zeros) {
		if !bytes.Equal(p[:len(zeros)], zeros[:]) {
			return false
		}
		p = p[len(zeros):]
	}
	return bytes.Equal(p, zeros[:len(p)])
}
