package page

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/mmapfile"
)

// The file's fixed layout: the root page, then the two root slots, then
// the pages the allocator hands out.
const (
	RootExp   = 10 // the root page and each slot hold 1 KiB
	RootAddr  = 0
	slotBytes = 1 << RootExp
	// FirstPage is the address of the first allocatable page.
	FirstPage = 4 * slotBytes
	// FormatVersion is the version of the file format this build writes;
	// it reads this version only.
	FormatVersion = 6
)

// slotAddr is where the copy of generation gen lives: even generations in
// the first slot, odd in the second, so a new copy never overwrites the
// newest valid one.
func slotAddr(gen uint64) int64 { return slotBytes * int64(1+gen%2) }

// magic opens the root page's payload.
var magic = []byte("persy-go\x00file\x00\x00\x00") // 16 bytes

// ErrFormatVersion is returned for a persy-go file of a format version
// this build does not read, such as one written by a newer release.
var ErrFormatVersion = errors.New("persy: unsupported file format version")

// MaxLimbo bounds the chunk pages a root state holds in limbo.
const MaxLimbo = 32

// MaxJournalSpare bounds the journal's spare pages in a root state. Each
// refill of the spares stores a root state behind two barriers, so a
// large commit pays two barriers per MaxJournalSpare pages it writes:
// as many as the root slot's kilobyte leaves room for.
const MaxJournalSpare = 44

// FreeList is the durable head of one size class's free list: a stack of
// chunk pages, each a free page of the class listing other free pages of
// the class (see Allocator).
type FreeList struct {
	Top    int64  // the chunk page on top, 0 if the list is empty
	TopSum uint32 // its checksum (see Ptr)
	Used   uint32 // entries of Top already handed out
	Count  uint64 // free pages on the list, chunk pages included
}

// State is the root state: where every structure of the file starts. Two
// copies live in the root slots; the valid copy of the highest generation
// is the state of the file.
type State struct {
	// Gen is the generation of this copy; each Store adds one.
	Gen uint64
	// End is the allocator's frontier: every address from FirstPage up to
	// End is a page, nothing at or past it is.
	End int64
	// Free holds each size class's free list.
	Free [Classes]FreeList
	// Limbo holds chunk pages whose entries are all handed out: free, but
	// still read by an older root state when they entered limbo. Each is
	// an address with the page's size exponent in its low bits.
	Limbo      [MaxLimbo]int64
	LimboCount int
	// JournalHead is the first journal page still needed, 0 if none;
	// JournalSeq the sequence number of that page.
	JournalHead int64
	JournalSeq  uint64
	// JournalDurable is a sequence number every journal page before
	// which was durable when this state was filled: a journal that ends
	// before it lost a page to the media.
	JournalDurable uint64
	// JournalHeadGen is a root generation the head page was written
	// under or after (journal pages carry the generation they were
	// written under): the generation of the state that made the head a
	// page not yet written, so that a page an earlier writer left at
	// that address, of the same sequence number, does not read as the
	// head (see package journal).
	JournalHeadGen uint64
	// JournalSpare holds pages allocated to the journal and not yet
	// written, durably its own before a journal page links to them.
	JournalSpare      [MaxJournalSpare]int64
	JournalSpareCount int
	// Catalog is the first page of the catalogue of segments and
	// indexes, the zero Ptr if there is none yet.
	Catalog Ptr
	// Checkpoint is the journal LSN the catalogue is up to date with:
	// every transaction whose commit entry lies before it is in the
	// catalogue, none after it is.
	Checkpoint uint64
}

// limboEntry packs a page address and its size exponent.
func limboEntry(addr int64, exp uint8) int64 { return Ref{addr, exp}.Pack() }

func unpackLimbo(e int64) (int64, uint8) { r := Unpack(e); return r.Addr, r.Exp }

// Pack returns r in one word: the address with the size exponent in its
// low bits, which a page address always has free.
func (r Ref) Pack() int64 { return r.Addr | int64(r.Exp) }

// Unpack returns the Ref that Pack made e from.
func Unpack(e int64) Ref { return Ref{Addr: e &^ (MinBytes - 1), Exp: uint8(e & (MinBytes - 1))} }

const stateBytes = 8 + 8 + Classes*24 + 8 + MaxLimbo*8 + 8 + 8 + 8 + MaxJournalSpare*8 + 8 + 8 + 8 + 8 + 8

func (st *State) encode() []byte {
	b := make([]byte, 0, stateBytes)
	b = binary.LittleEndian.AppendUint64(b, st.Gen)
	b = binary.LittleEndian.AppendUint64(b, uint64(st.End))
	for _, f := range st.Free {
		b = binary.LittleEndian.AppendUint64(b, uint64(f.Top))
		b = binary.LittleEndian.AppendUint32(b, f.TopSum)
		b = binary.LittleEndian.AppendUint32(b, f.Used)
		b = binary.LittleEndian.AppendUint64(b, f.Count)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(st.LimboCount))
	for _, e := range st.Limbo {
		b = binary.LittleEndian.AppendUint64(b, uint64(e))
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(st.JournalHead))
	b = binary.LittleEndian.AppendUint64(b, st.JournalSeq)
	b = binary.LittleEndian.AppendUint64(b, uint64(st.Catalog.Pack()))
	b = binary.LittleEndian.AppendUint64(b, uint64(st.JournalSpareCount))
	for _, e := range st.JournalSpare {
		b = binary.LittleEndian.AppendUint64(b, uint64(e))
	}
	b = binary.LittleEndian.AppendUint64(b, st.Checkpoint)
	b = binary.LittleEndian.AppendUint64(b, st.JournalDurable)
	b = binary.LittleEndian.AppendUint64(b, uint64(st.Catalog.Sum))
	b = binary.LittleEndian.AppendUint64(b, st.JournalHeadGen)
	return b
}

// decodeState parses and checks a slot's payload: every address it holds
// must be a page address inside the allocated part of the file.
func decodeState(addr int64, p []byte) (State, error) {
	if len(p) != stateBytes {
		return State{}, corrupt(addr, "root state of %d bytes, want %d", len(p), stateBytes)
	}
	u := func() uint64 {
		v := binary.LittleEndian.Uint64(p)
		p = p[8:]
		return v
	}
	var st State
	st.Gen = u()
	st.End = int64(u())
	for c := range st.Free {
		st.Free[c].Top = int64(u())
		st.Free[c].TopSum = binary.LittleEndian.Uint32(p)
		st.Free[c].Used = binary.LittleEndian.Uint32(p[4:])
		p = p[8:]
		st.Free[c].Count = u()
	}
	limbo := u()
	for i := range st.Limbo {
		st.Limbo[i] = int64(u())
	}
	st.JournalHead = int64(u())
	st.JournalSeq = u()
	st.Catalog.Ref = Unpack(int64(u()))
	spares := u()
	for i := range st.JournalSpare {
		st.JournalSpare[i] = int64(u())
	}
	st.Checkpoint = u()
	st.JournalDurable = u()
	catSum := u()
	st.JournalHeadGen = u()
	if catSum > math.MaxUint32 || st.Catalog.Ref == (Ref{}) && catSum != 0 {
		return st, corrupt(addr, "catalogue checksum %#x", catSum)
	}
	st.Catalog.Sum = uint32(catSum)
	if st.End < FirstPage || st.End%MinBytes != 0 {
		return st, corrupt(addr, "allocator end %d is not a page boundary at or past %d", st.End, FirstPage)
	}
	// fits says a is no page (0) or a page of size exponent exp, at
	// least, of the allocated part.
	fits := func(a int64, exp uint8) bool { return a == 0 || (Ref{a, exp}).Within(st.End) }
	for c, f := range st.Free {
		if !fits(f.Top, uint8(MinExp+c)) || (f.Top == 0) != (f.Count == 0) || (f.Top == 0 && (f.Used != 0 || f.TopSum != 0)) {
			return st, corrupt(addr, "free list %d: top %d, %d used, %d pages, allocator end %d", c, f.Top, f.Used, f.Count, st.End)
		}
	}
	if limbo > MaxLimbo {
		return st, corrupt(addr, "%d pages in limbo, at most %d", limbo, MaxLimbo)
	}
	st.LimboCount = int(limbo)
	for i, e := range st.Limbo {
		a, exp := unpackLimbo(e)
		if i >= st.LimboCount && e != 0 || i < st.LimboCount && (a == 0 || !fits(a, exp)) {
			return st, corrupt(addr, "limbo entry %d is %#x", i, e)
		}
	}
	if spares > MaxJournalSpare {
		return st, corrupt(addr, "%d journal spare pages, at most %d", spares, MaxJournalSpare)
	}
	st.JournalSpareCount = int(spares)
	for i, e := range st.JournalSpare {
		if i >= st.JournalSpareCount && e != 0 || i < st.JournalSpareCount && (e == 0 || !fits(e, MinExp)) {
			return st, corrupt(addr, "journal spare %d is %d", i, e)
		}
	}
	if !fits(st.JournalHead, MinExp) || st.Catalog.Ref != (Ref{}) && !st.Catalog.Within(st.End) {
		return st, corrupt(addr, "journal head %d or catalogue %d outside the allocated pages up to %d", st.JournalHead, st.Catalog.Addr, st.End)
	}
	return st, nil
}

// Format writes a new file's root page and first root state into s, which
// must be empty or Unformatted, and makes them, the size and the file's
// creation durable with Sync.
func Format(s mmapfile.Storage) (State, error) {
	if s.Size() != 0 {
		if !Unformatted(s) {
			return State{}, fmt.Errorf("page: format a storage of %d bytes: it must be empty, or hold what a format a crash cut short leaves", s.Size())
		}
		// What the earlier format left goes first: a torn root copy in
		// the slot the next Store writes could be completed by it.
		if err := s.WriteAt(make([]byte, min(s.Size(), FirstPage)), 0); err != nil {
			return State{}, err
		}
	}
	if err := s.Grow(FirstPage); err != nil {
		return State{}, err
	}
	buf := make([]byte, slotBytes)
	root := binary.LittleEndian.AppendUint32(append([]byte(nil), magic...), FormatVersion)
	root = append(root, MinExp, MaxExp)
	if err := Write(s, buf, Header{Exp: RootExp, Type: TypeRoot, Addr: RootAddr}, root); err != nil {
		return State{}, err
	}
	st := State{Gen: 1, End: FirstPage}
	if err := Write(s, buf, Header{Exp: RootExp, Type: TypeRootSlot, Addr: slotAddr(st.Gen), Seq: st.Gen}, st.encode()); err != nil {
		return State{}, err
	}
	if mutant.On(mutant.GrowUnsynced) {
		return st, s.SyncRange(0, FirstPage) // the pages written, not the size
	}
	return st, s.Sync()
}

// FormatBytes bounds what formatting a file and starting its journal
// grow it to before anything is committed: the root page and slots,
// then the journal's first page and its spares, 1+MaxJournalSpare pages
// of an OS page, in the allocator's growth steps.
const FormatBytes = FirstPage + (1+MaxJournalSpare)*mmapfile.PageBytes/GrowBytes*GrowBytes + GrowBytes

// Unformatted reports whether s holds what a format that a crash cut
// short may leave, and nothing else: at most FormatBytes, no valid root
// state (the root page or every slot torn or unwritten) or only the first
// generation, which Format stores and which names no journal yet, and no
// valid page past the root slots. Such a storage holds nothing a caller
// committed: a database's first commit writes a journal page past the
// slots. Formatting it again loses nothing.
func Unformatted(s mmapfile.Storage) bool {
	if mutant.On(mutant.FormatNotAtomic) {
		return false
	}
	size := s.Size()
	if size == 0 || size > FormatBytes {
		return false
	}
	if st, err := Load(s); err == nil && (st.Gen > 1 || st.JournalHead != 0) {
		return false
	}
	for addr := int64(FirstPage); addr+HeaderSize <= size; addr += MinBytes {
		if _, _, ok := Probe(s, addr); ok {
			return false
		}
	}
	return true
}

// Load checks the root page of s and returns the newest valid root state.
// A file without the magic tag gives ErrNotPersyFile, another format
// version ErrFormatVersion, a damaged root page or two invalid slots a
// *CorruptError.
func Load(s mmapfile.Storage) (State, error) {
	if s.Size() < FirstPage {
		if s.Size() >= HeaderSize+int64(len(magic)) && bytes.Equal(s.Bytes(HeaderSize, len(magic)), magic) {
			return State{}, corrupt(RootAddr, "a persy-go file truncated to %d bytes", s.Size())
		}
		return State{}, fmt.Errorf("%w: %d bytes, too short", ErrNotPersyFile, s.Size())
	}
	if !bytes.Equal(s.Bytes(HeaderSize, len(magic)), magic) {
		return State{}, ErrNotPersyFile
	}
	h, p, err := Read(s, RootAddr)
	if err != nil {
		return State{}, err
	}
	if h.Type != TypeRoot || h.Exp != RootExp || len(p) != len(magic)+6 {
		return State{}, corrupt(RootAddr, "a %v page of %d bytes with %d payload bytes where the root page belongs", h.Type, h.Bytes(), len(p))
	}
	if v := binary.LittleEndian.Uint32(p[len(magic):]); v != FormatVersion {
		return State{}, fmt.Errorf("%w: the file is format %d, this build reads format %d", ErrFormatVersion, v, FormatVersion)
	}
	if p[len(magic)+4] != MinExp || p[len(magic)+5] != MaxExp {
		return State{}, corrupt(RootAddr, "size classes [%d, %d], want [%d, %d]", p[len(magic)+4], p[len(magic)+5], MinExp, MaxExp)
	}
	var (
		best  State
		found bool
		errs  []error
	)
	for gen := range uint64(2) {
		st, err := readSlot(s, slotAddr(gen), gen%2)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !found || st.Gen > best.Gen {
			best, found = st, true
		}
	}
	if !found {
		return State{}, fmt.Errorf("persy: no valid root state: %w", errors.Join(errs...))
	}
	if best.End > s.Size() {
		return State{}, corrupt(slotAddr(best.Gen), "the root state's allocator end %d is past the end of the file, %d bytes", best.End, s.Size())
	}
	return best, nil
}

// Ends returns the largest allocator end of the valid root copies in s,
// as s holds them now. A file cut shorter might not open: the newest copy
// may not be durable yet (a state loaded and not yet settled), and a
// crash then leaves the other, which its successor's Store found
// durable, and which may end further on.
func Ends(s mmapfile.Storage) int64 {
	var end int64
	for gen := range uint64(2) {
		if st, err := readSlot(s, slotAddr(gen), gen%2); err == nil {
			end = max(end, st.End)
		}
	}
	return end
}

func readSlot(s mmapfile.Storage, addr int64, parity uint64) (State, error) {
	h, p, err := Read(s, addr)
	if err != nil {
		return State{}, err
	}
	if h.Type != TypeRootSlot || h.Exp != RootExp {
		return State{}, corrupt(addr, "a %v page of %d bytes where a root slot belongs", h.Type, h.Bytes())
	}
	st, err := decodeState(addr, p)
	if err != nil {
		return State{}, err
	}
	if st.Gen != h.Seq || st.Gen == 0 || st.Gen%2 != parity {
		return State{}, corrupt(addr, "root state generation %d in a slot written under %d", st.Gen, h.Seq)
	}
	return st, nil
}

// Scrub clears the slot the next Store of st's successor writes, if a
// crash inside an earlier Store left part of a copy there that was never
// made durable: the units of a torn root write that reached the disk. A
// later Store into that slot writing, in the other units, the same bytes
// as that copy would complete it into a valid root state of a higher
// generation than st, naming pages reused since. Scrub zeroes such a slot
// and makes it durable; a slot that is empty or holds a valid older copy
// is left alone. It reports whether it wrote.
//
// The caller must scrub before writing anything else after loading st: a
// crash inside Scrub may then complete the torn copy, but every page it
// names is still as its Store left it, so it is a state as whole as st.
func Scrub(s mmapfile.Storage, st State) (bool, error) {
	addr := slotAddr(st.Gen + 1)
	if old, err := readSlot(s, addr, (st.Gen+1)%2); err == nil && old.Gen < st.Gen {
		return false, nil
	}
	if allZero(s.Bytes(addr, slotBytes)) {
		return false, nil
	}
	if err := s.WriteAt(make([]byte, slotBytes), addr); err != nil {
		return true, err
	}
	return true, s.SyncRange(addr, slotBytes)
}

// Store writes st as the next generation of the root state (st.Gen must
// be the current generation plus one) into the slot not holding the
// current one, and makes it durable with SyncRange. Everything st points
// to must be durable before: a crash before Store returns leaves the
// current generation or st, nothing in between, provided the slot was
// scrubbed (see Scrub) since the state was loaded after a crash.
func Store(s mmapfile.Storage, st State) error {
	if st.Gen == 0 {
		return fmt.Errorf("page: root state generation 0")
	}
	addr := slotAddr(st.Gen)
	enc := st.encode()
	if _, err := decodeState(addr, enc); err != nil {
		return fmt.Errorf("page: refusing to store an invalid root state: %w", err)
	}
	buf := make([]byte, slotBytes)
	if err := Write(s, buf, Header{Exp: RootExp, Type: TypeRootSlot, Addr: addr, Seq: st.Gen}, enc); err != nil {
		return err
	}
	return s.SyncRange(addr, slotBytes)
}
