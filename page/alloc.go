package page

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"

	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/mmapfile"
)

// GrowBytes is the least the allocator grows the file by: growing is a
// system call and its size becomes durable only with a Sync. A larger
// file grows by an eighth of its size, up to MaxGrowBytes, so that a
// bulk load grows it a few dozen times rather than once per 64 KiB.
const (
	GrowBytes    = 64 << 10
	MaxGrowBytes = 64 << 20
)

// osPageExp is the size exponent of an OS page, the largest alignment.
const osPageExp = 12

// BallastBytes is the free space at the file's end that Reserve keeps
// for checkpoints: an operation that is not one fails with ENOSPC while
// that much is still free, so that on a full disk a checkpoint, which
// writes the pages it changes elsewhere before it frees the old ones,
// still has room to free what deletes gave back.
const BallastBytes = 64 << 10

// chunkHead is the bytes before a chunk page's entries: prev u64 (a
// packed Ref), the entries of prev already handed out u32, the entry
// count u32, prev's checksum u32 and four zero bytes.
const chunkHead = 24

// Allocator hands out pages by size class and takes them back.
//
// Each class's free pages form a stack of chunk pages: a chunk is itself
// a free page of the class whose payload lists other free pages of the
// class and links to the chunk below. The root state holds the top chunk
// and how many of its entries are handed out. Chunks are written only
// when they are made, into a page allocated for them, and never changed
// after, so a crash leaves every chunk an older root state reads intact:
//
//   - Allocate hands out the top chunk's entries. The durable state still
//     counts them free until the next Commit, and may: nothing reads a
//     free page's content.
//   - A chunk whose entries are all handed out enters limbo: it leaves its
//     list with the next Commit but is handed out only after that Commit,
//     because the root state before it still reads it. With limbo full
//     it is freed instead, like a page the next root state stops reading,
//     and listed by the Commit that stores that state.
//   - Free and Release make pages pending; the next Commit puts them in
//     limbo (or, when limbo is full, lists them in new chunks), in the
//     same root state that stops reading them, and only then may they be
//     handed out again: a page is reused only after its freeing is
//     durable. A Commit finding limbo more than half full moves its
//     durable pages to the lists.
//   - A Commit trims durable limbo pages that end the file off the end.
//     Trimming only ever moves the end over pages free in the durable
//     root state, so a page the durable state reads is never handed out
//     by extension either.
//
// Allocator is not safe for concurrent use.
type Allocator struct {
	s        mmapfile.Storage
	st       State            // the state now; st.Gen is the generation stored last
	limboGen [MaxLimbo]uint64 // the generation that first stored each limbo entry
	pending  []Ref            // freed, listed by the next Commit
	isFree   map[int64]bool   // pending addresses, to refuse a double free
	owners   map[uint64][]Ref // freed by an owner that has not released them
	buf      []byte
	err      error // the first barrier failure: the allocator is done
	// settled says the state the allocator was made with is durable.
	settled bool
	// syncedSize is a storage size a Sync of the allocator's made
	// durable, 0 before its first; chunks holds the chunk pages written
	// since the last Commit. CommitOwn syncs only those where the size
	// is durable.
	syncedSize int64
	chunks     []Ref
}

// Ref names a page: its address and size exponent.
type Ref struct {
	Addr int64
	Exp  uint8
}

// Bytes is the page's size.
func (r Ref) Bytes() int64 { return 1 << r.Exp }

// Within reports whether r is a page of the allocated part of a file
// whose allocator end is end: a size class, an address on a page boundary
// at or past FirstPage, and its last byte before end.
func (r Ref) Within(end int64) bool {
	return r.Exp >= MinExp && r.Exp <= MaxExp && r.Addr >= FirstPage && r.Addr%MinBytes == 0 && r.Addr <= end-r.Bytes()
}

// NewAllocator returns the allocator of a file whose root state, just
// loaded or formatted, is st.
//
// A state loaded may not be durable: a process that died between a
// Store's write and its barrier leaves it readable, and the state before
// it, which a power loss brings back, still reads pages it freed. So the
// first Allocate makes st durable before it hands out a page. The first
// generation, which frees nothing, needs no such barrier.
func NewAllocator(s mmapfile.Storage, st State) *Allocator {
	return &Allocator{s: s, st: st, isFree: map[int64]bool{}, owners: map[uint64][]Ref{}, settled: st.Gen <= 1}
}

// State returns the allocator's state now, with what it handed out and
// took back since the last Commit.
func (a *Allocator) State() State { return a.st }

// Gen returns the generation of the allocator's state: the last stored,
// or, inside a Commit's update, the one being stored.
func (a *Allocator) Gen() uint64 { return a.st.Gen }

// Settle makes the state the allocator was made with durable, once: a
// state loaded from a root copy that the process which wrote it may have
// died before making durable. Allocate settles first; so must a caller
// that writes pages stamped with the state's generation (the journal)
// before it allocates: a crash could otherwise bring back the state
// before, and a later writer store that generation again.
func (a *Allocator) Settle() error {
	if a.err != nil {
		return a.err
	}
	if !a.settled {
		// Both root slots share the first OS page: one barrier.
		if err := a.s.SyncRange(RootAddr, FirstPage); err != nil {
			return a.fail(err)
		}
		a.settled = true
	}
	return nil
}

// Allocate returns a page of size exponent exp for the caller to write.
// It is not durable: until a Commit stores a state that has it handed
// out, a crash returns it to free.
func (a *Allocator) Allocate(exp uint8) (Ref, error) {
	if a.err != nil {
		return Ref{}, a.err
	}
	if err := a.Settle(); err != nil {
		return Ref{}, err
	}
	if exp < MinExp || exp > MaxExp {
		return Ref{}, fmt.Errorf("page: allocate: size exponent %d outside [%d, %d]", exp, MinExp, MaxExp)
	}
	f := &a.st.Free[exp-MinExp]
	for f.Top != 0 {
		entries, prev, prevUsed, err := readChunk(a.s, Ptr{Ref{f.Top, exp}, f.TopSum}, a.st.End)
		if err != nil {
			return Ref{}, err
		}
		if int(f.Used) < len(entries) {
			addr := entries[len(entries)-1-int(f.Used)]
			if !(Ref{addr, exp}).Within(a.st.End) {
				return Ref{}, corrupt(f.Top, "free-list entry %d is %d, not a page below %d", len(entries)-1-int(f.Used), addr, a.st.End)
			}
			f.Used++
			f.Count--
			return Ref{addr, exp}, nil
		}
		if a.st.LimboCount == MaxLimbo {
			// Limbo is full: the exhausted chunk is freed like any page
			// the next root state stops reading, and the chunks below it
			// go on serving. (Stopping here would grow the file while
			// free pages wait below.)
			a.isFree[f.Top] = true
			a.pending = append(a.pending, Ref{f.Top, exp})
		} else {
			a.st.Limbo[a.st.LimboCount] = limboEntry(f.Top, exp)
			a.limboGen[a.st.LimboCount] = a.st.Gen + 1
			a.st.LimboCount++
		}
		f.Top, f.TopSum, f.Used = prev.Addr, prev.Sum, prevUsed
		f.Count--
	}
	for i := range a.st.LimboCount {
		addr, e := unpackLimbo(a.st.Limbo[i])
		if e == exp && (a.limboGen[i] <= a.st.Gen || mutant.On(mutant.FreedReusedEarly)) {
			a.dropLimbo(i)
			return Ref{addr, exp}, nil
		}
	}
	at := alignUp(a.st.End, exp)
	r := Ref{at, exp}
	if end := r.Addr + r.Bytes(); end > a.s.Size() {
		if err := a.grow(end); err != nil {
			return Ref{}, err
		}
	}
	a.pad(at)
	a.st.End += r.Bytes()
	return r, nil
}

// grow grows the file to at least end bytes: by its step or more, or,
// where the disk has no room for that, by exactly what end needs. A
// failure changes nothing.
func (a *Allocator) grow(end int64) error {
	size := a.s.Size()
	step := max(GrowBytes, min(size/8, MaxGrowBytes)) &^ (GrowBytes - 1)
	err := a.s.Grow(max(end, size+step))
	if errors.Is(err, syscall.ENOSPC) && end < size+step {
		return a.s.Grow(end)
	}
	return err
}

// Need counts the pages an operation may allocate, by size class.
type Need [Classes]int

// Add counts k more pages of size exponent exp.
func (n *Need) Add(exp uint8, k int) { n[exp-MinExp] += k }

// Plus returns n with m's pages added.
func (n Need) Plus(m Need) Need {
	for c := range n {
		n[c] += m[c]
	}
	return n
}

// Reserve makes sure that the pages n counts can be allocated without
// growing the file, so that an operation that reserved first cannot
// fail for space half done: what a class's free list can serve is
// counted by walking its chunks, and the rest must fit between the
// allocator's end and the file's, with the padding alignment may put
// before each page; the file grows now if it does not. Unless ballast
// is set, BallastBytes must stay free besides. A failure (wrapping
// ENOSPC on a full disk) changes nothing.
func (a *Allocator) Reserve(n Need, ballast bool) error {
	return a.reserve(n, ballast, false)
}

// ReserveAhead is Reserve counting besides the pages in limbo whose
// freeing is durable, which Allocate hands out once the lists are
// empty: for an operation that runs only after other operations and
// Commits, and reserves exactly again when it does (a checkpoint). It
// is an estimate, not a promise: a Commit may list such pages in new
// chunks before it allocates those chunks, or trim them off the end,
// leaving their room at the end but perhaps less aligned.
func (a *Allocator) ReserveAhead(n Need, ballast bool) error {
	return a.reserve(n, ballast, true)
}

func (a *Allocator) reserve(n Need, ballast, limbo bool) error {
	if a.err != nil {
		return a.err
	}
	var ext int64
	for c, k := range n {
		if k == 0 {
			continue
		}
		short := int64(k) - a.servable(c, int64(k))
		if limbo {
			for i := range a.st.LimboCount {
				if _, e := unpackLimbo(a.st.Limbo[i]); int(e-MinExp) == c && a.limboGen[i] <= a.st.Gen {
					short--
				}
			}
		}
		if short <= 0 {
			continue
		}
		// alignUp pads before a page by less than the alignment it
		// needs (its size, at most an OS page), and the end is always
		// a multiple of MinBytes: by the alignment less MinBytes at most.
		size := int64(1) << (MinExp + c)
		ext += short * (size + min(size, mmapfile.PageBytes) - MinBytes)
	}
	if ext == 0 {
		return nil
	}
	need := a.st.End + ext
	if !ballast {
		need += BallastBytes
	}
	if need <= a.s.Size() {
		return nil
	}
	return a.grow(need)
}

// servable returns how many pages class c's free list can hand out now,
// up to want: the entries of its chunks not handed out. Chunk pages and
// limbo are not counted: a chunk is handed out only after the Commit
// that follows its exhaustion, and a Commit may move limbo to the lists.
func (a *Allocator) servable(c int, want int64) int64 {
	f := a.st.Free[c]
	ptr, used := Ptr{Ref{f.Top, uint8(MinExp + c)}, f.TopSum}, int64(f.Used)
	var n int64
	for ptr.Addr != 0 && n < want {
		entries, prev, prevUsed, err := readChunk(a.s, ptr, a.st.End)
		if err != nil {
			return n // Allocate will report it
		}
		n += max(0, int64(len(entries))-used)
		ptr, used = prev, int64(prevUsed)
	}
	return n
}

// CommitNeed returns what the next Commit may allocate for the chunk
// pages that list what it frees, after an operation that allocates
// alloc and frees more before it: the pages pending now and in limbo,
// more, the chunks allocating alloc may exhaust, the padding before
// pages smaller than an OS page, and the chunks allocating the chunk
// pages themselves may exhaust.
func (a *Allocator) CommitNeed(alloc Need, more ...[]Ref) Need {
	var frees Need
	for _, rs := range more {
		for _, r := range rs {
			frees.Add(r.Exp, 1)
		}
	}
	return a.CommitNeedFreeing(alloc, frees)
}

// CommitNeedFreeing is CommitNeed with the pages freed besides those
// pending and in limbo given as counts by size class.
func (a *Allocator) CommitNeedFreeing(alloc, frees Need) Need {
	k := frees
	for _, r := range a.pending {
		k[r.Exp-MinExp]++
	}
	for i := range a.st.LimboCount {
		_, e := unpackLimbo(a.st.Limbo[i])
		k[e-MinExp]++
	}
	for c, n := range alloc {
		// Each page taken from a list may exhaust a chunk (a chunk
		// holds at least one entry); each taken from the end may
		// leave padding before it, a page of each class below its
		// alignment.
		k[c] += n
		for p := MinExp; p < min(MinExp+c, osPageExp); p++ {
			k[p-MinExp] += n
		}
	}
	var n Need
	for c, kc := range k {
		if kc > 0 {
			perChunk := (Capacity(uint8(MinExp+c)) - chunkHead) / 8
			n[c] = (kc+perChunk-2)/(perChunk-1) + 1
		}
	}
	return n
}

// alignUp returns the first address from end on where a page of size
// exponent exp may start: a multiple of its own size up to an OS page,
// of an OS page past that. So no page shares an OS page with another
// unless both are smaller than one, and a barrier on one journal page
// (an OS page, the unit the kernel writes back and msync makes durable)
// covers no byte of another.
func alignUp(end int64, exp uint8) int64 {
	if mutant.On(mutant.PagesUnaligned) {
		return end
	}
	align := min(int64(1)<<exp, mmapfile.PageBytes)
	return (end + align - 1) &^ (align - 1)
}

// pad moves the end to at, freeing the gap before it as the largest
// aligned pages it holds. No root state has read them: like any freed
// page, they are handed out after the next Commit lists them.
func (a *Allocator) pad(at int64) {
	for a.st.End < at {
		exp := uint8(MinExp)
		for exp < MaxExp && a.st.End%(2<<exp) == 0 && a.st.End+2<<exp <= at {
			exp++
		}
		r := Ref{a.st.End, exp}
		a.st.End += r.Bytes()
		a.isFree[r.Addr] = true
		a.pending = append(a.pending, r)
	}
}

// Aligned reports whether a page at addr of size exponent exp starts
// where the allocator places such pages (see alignUp).
func Aligned(addr int64, exp uint8) bool {
	align := min(int64(1)<<exp, mmapfile.PageBytes)
	return addr%align == 0
}

func (a *Allocator) dropLimbo(i int) {
	n := a.st.LimboCount
	copy(a.st.Limbo[i:n], a.st.Limbo[i+1:n])
	copy(a.limboGen[i:n], a.limboGen[i+1:n])
	a.st.Limbo[n-1], a.limboGen[n-1] = 0, 0
	a.st.LimboCount--
}

// readChunk reads the chunk page c, in a file whose allocator end is
// end: its entries, the chunk below it and how many of that one's
// entries are handed out.
func readChunk(s mmapfile.Storage, c Ptr, end int64) (entries []int64, prev Ptr, prevUsed uint32, err error) {
	addr, exp := c.Addr, c.Exp
	h, p, err := ReadPtr(s, c)
	if err != nil {
		return nil, Ptr{}, 0, err
	}
	if h.Type != TypeFree {
		return nil, Ptr{}, 0, corrupt(addr, "a %v page of %d bytes on the free list of %d-byte pages", h.Type, h.Bytes(), 1<<exp)
	}
	if len(p) < chunkHead || binary.LittleEndian.Uint32(p[20:]) != 0 {
		return nil, Ptr{}, 0, corrupt(addr, "a free-list chunk of %d bytes", len(p))
	}
	prev = Ptr{Ref{int64(binary.LittleEndian.Uint64(p)), exp}, binary.LittleEndian.Uint32(p[16:])}
	prevUsed = binary.LittleEndian.Uint32(p[8:])
	n := int(binary.LittleEndian.Uint32(p[12:]))
	if n != (len(p)-chunkHead)/8 || len(p) != chunkHead+8*n {
		return nil, Ptr{}, 0, corrupt(addr, "a free-list chunk claims %d entries in %d bytes", n, len(p))
	}
	// Entries are checked where they are used: those already handed out
	// may lie past an end trimmed since.
	entries = make([]int64, n)
	for i := range entries {
		entries[i] = int64(binary.LittleEndian.Uint64(p[chunkHead+8*i:]))
	}
	if prev.Addr != 0 && !prev.Within(end) {
		return nil, Ptr{}, 0, corrupt(addr, "free-list chunk links to %d, not a page below %d", prev.Addr, end)
	}
	if prev.Addr == 0 && (prevUsed != 0 || prev.Sum != 0) {
		return nil, Ptr{}, 0, corrupt(addr, "free-list chunk at the bottom says %d entries below are used", prevUsed)
	}
	return entries, prev, prevUsed, nil
}

// Free makes r pending: the next Commit lists it free, and only then is
// it handed out again. The root state that Commit stores must not read r;
// older ones may. Freeing a page the state the allocator was made with
// has in limbo is a *CorruptError: that state lists free a page in use.
func (a *Allocator) Free(r Ref) error {
	if a.err != nil {
		return a.err
	}
	if !r.Within(a.st.End) {
		return fmt.Errorf("page: free %d-byte page at %d: not a page below %d", r.Bytes(), r.Addr, a.st.End)
	}
	if a.isFree[r.Addr] {
		return fmt.Errorf("page: free page at %d twice", r.Addr)
	}
	for i, e := range a.st.Limbo[:a.st.LimboCount] {
		if addr, _ := unpackLimbo(e); addr != r.Addr {
			continue
		}
		if a.limboGen[i] == 0 && !mutant.On(mutant.LostFreeUnreported) {
			// In limbo in the state the allocator was made with, and
			// yet in use: the file's state, read back, is not what was
			// written (a lost write of a root copy).
			return corrupt(r.Addr, "freed while the root state lists it free")
		}
		return fmt.Errorf("page: free page at %d twice", r.Addr)
	}
	a.isFree[r.Addr] = true
	a.pending = append(a.pending, r)
	return nil
}

// FreeLater records that owner freed r but may still read it (a snapshot,
// a transaction not yet cleaned): Release makes it pending.
func (a *Allocator) FreeLater(owner uint64, r Ref) {
	a.owners[owner] = append(a.owners[owner], r)
}

// Release makes every page owner freed pending, in the order freed.
func (a *Allocator) Release(owner uint64) error {
	rs := a.owners[owner]
	delete(a.owners, owner)
	for i, r := range rs {
		if err := a.Free(r); err != nil {
			a.owners[owner] = rs[i:]
			return err
		}
	}
	return nil
}

// Pending returns the pages freed and not yet listed by a Commit, then
// those held by owners (by owner, in the order freed).
func (a *Allocator) Pending() []Ref {
	out := slices.Clone(a.pending)
	owners := make([]uint64, 0, len(a.owners))
	for o := range a.owners {
		owners = append(owners, o)
	}
	slices.Sort(owners)
	for _, o := range owners {
		out = append(out, a.owners[o]...)
	}
	return out
}

// Commit makes the allocator's state durable together with the caller's:
// it trims durable limbo pages off the end, puts the pending pages in
// limbo (or, limbo full, lists them in new chunks), lets update set the
// root state's other fields (it sees the generation being stored), makes
// everything written so far durable with Sync (the chunks, the caller's
// pages, the file size) and then stores the root state. The pages freed since the last Commit become
// free in the same root state that stops reading them, so a caller may
// free the pages its own update stops using. A failure, whether of a
// chunk page it could not allocate or write, of the barrier or of the
// root state's store, leaves the allocator unusable (ErrAllocatorDone);
// a failed barrier poisons the storage too. The way on is reopening.
func (a *Allocator) Commit(update func(*State)) error {
	return a.commit(update, false)
}

// CommitOwn is Commit for a caller that has written nothing the root
// state it stores reads, and nothing that must be durable before it,
// since its last Commit: only the allocator's own pages (the chunks it
// writes) and the file size need the barrier. Where the file has not
// grown since the last Sync, it makes the chunk pages durable with
// SyncRange instead of a Sync of the whole file. The journal's refill of
// its spare pages is such a commit.
func (a *Allocator) CommitOwn(update func(*State)) error {
	return a.commit(update, true)
}

func (a *Allocator) commit(update func(*State), own bool) error {
	if a.err != nil {
		return a.err
	}
	gen := a.st.Gen + 1
	pending := a.pending
	a.pending = nil
	if mutant.On(mutant.FreesUnlisted) {
		pending = nil
	}
	// Trim the end: pages in limbo since an earlier Commit are free in
	// the durable root state, so the end may move down over them.
	for {
		i := a.durableLimboAt(a.st.End)
		if i < 0 {
			break
		}
		addr, _ := unpackLimbo(a.st.Limbo[i])
		a.dropLimbo(i)
		a.st.End = addr
	}
	// Freed pages wait in limbo, recorded in the root state: free once it
	// is durable, handed out directly after, trimmed off the end by the
	// next Commit. When limbo holds more than half its room, the pages
	// an earlier Commit put there go to the free lists in new chunks.
	var listed []Ref
	if a.st.LimboCount > MaxLimbo/2 {
		for i := 0; i < a.st.LimboCount; {
			if a.limboGen[i] <= a.st.Gen {
				addr, exp := unpackLimbo(a.st.Limbo[i])
				listed = append(listed, Ref{addr, exp})
				a.dropLimbo(i)
				continue
			}
			i++
		}
	}
	for _, r := range pending {
		if a.st.LimboCount == MaxLimbo {
			listed = append(listed, r)
			continue
		}
		a.st.Limbo[a.st.LimboCount], a.limboGen[a.st.LimboCount] = limboEntry(r.Addr, r.Exp), gen
		a.st.LimboCount++
	}
	// Allocate every chunk page this Commit needs before writing any
	// chunk: allocating after would hand out entries of a chunk just
	// written, pages the durable root state still reads.
	var byClass [Classes][]Ref
	var chunks [Classes][]Ref
	for {
		for _, r := range listed {
			byClass[r.Exp-MinExp] = append(byClass[r.Exp-MinExp], r)
		}
		for c := range byClass {
			exp := uint8(MinExp + c)
			perChunk := (Capacity(exp) - chunkHead) / 8
			for len(chunks[c]) < (len(byClass[c])+perChunk-1)/perChunk {
				r, err := a.Allocate(exp)
				if err != nil {
					return a.fail(err)
				}
				chunks[c] = append(chunks[c], r)
			}
		}
		// With limbo full, allocating may have made exhausted chunks
		// pending. The root state this Commit stores no longer reads
		// them and the next Commit is too late: were the machine to
		// crash before it, they would be listed nowhere. This Commit
		// lists them, which may take more chunks.
		if len(a.pending) == 0 {
			break
		}
		listed, a.pending = a.pending, nil
	}
	for c, rs := range byClass {
		if err := a.writeChunks(gen, uint8(MinExp+c), rs, chunks[c]); err != nil {
			return a.fail(err)
		}
	}
	a.st.Gen = gen // update sees the state it fills as it is stored
	if update != nil {
		update(&a.st)
	}
	if mutant.On(mutant.RootBeforePages) {
		if err := Store(a.s, a.st); err != nil {
			return a.fail(err)
		}
	}
	if err := a.barrier(own); err != nil {
		return a.fail(err)
	}
	if !mutant.On(mutant.RootBeforePages) {
		if err := Store(a.s, a.st); err != nil {
			return a.fail(err)
		}
	}
	clear(a.isFree)
	return nil
}

// barrier makes what the root state about to be stored reads durable:
// everything, with Sync, or, for own, the chunk pages written since the
// last Commit where the file's size is already durable.
func (a *Allocator) barrier(own bool) error {
	chunks := a.chunks
	a.chunks = a.chunks[:0]
	size := a.s.Size()
	if !own || a.syncedSize == 0 || size > a.syncedSize {
		if err := a.s.Sync(); err != nil {
			return err
		}
		a.syncedSize = size
		return nil
	}
	for _, r := range chunks {
		if err := a.s.SyncRange(r.Addr, r.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// durableLimboAt returns the index of a limbo page ending at end that an
// earlier Commit stored, or -1.
func (a *Allocator) durableLimboAt(end int64) int {
	for i := range a.st.LimboCount {
		addr, exp := unpackLimbo(a.st.Limbo[i])
		if addr+1<<exp == end && a.limboGen[i] <= a.st.Gen {
			return i
		}
	}
	return -1
}

func (a *Allocator) fail(err error) error {
	a.err = fmt.Errorf("%w: %w", ErrAllocatorDone, err)
	return err
}

// writeChunks pushes chunks listing rs onto class exp's list, one into
// each page of chunks, which were allocated for them: pages nothing the
// durable root state reads (a free page's content is no one's). The pages
// of rs are only listed, since the durable root state may still read
// them.
func (a *Allocator) writeChunks(gen uint64, exp uint8, rs, chunks []Ref) error {
	perChunk := (Capacity(exp) - chunkHead) / 8
	for _, chunk := range chunks {
		entries := rs[:min(len(rs), perChunk)]
		rs = rs[len(entries):]
		f := &a.st.Free[exp-MinExp]
		p := make([]byte, chunkHead, chunkHead+8*len(entries))
		binary.LittleEndian.PutUint64(p, uint64(f.Top))
		binary.LittleEndian.PutUint32(p[8:], f.Used)
		binary.LittleEndian.PutUint32(p[12:], uint32(len(entries)))
		binary.LittleEndian.PutUint32(p[16:], f.TopSum)
		for _, e := range entries {
			p = binary.LittleEndian.AppendUint64(p, uint64(e.Addr))
		}
		if cap(a.buf) < int(chunk.Bytes()) {
			a.buf = make([]byte, chunk.Bytes())
		}
		h := Header{Exp: exp, Type: TypeFree, Addr: chunk.Addr, Seq: gen}
		ptr, err := WritePtr(a.s, a.buf[:chunk.Bytes()], h, p)
		if err != nil {
			return err
		}
		a.chunks = append(a.chunks, chunk)
		f.Top, f.TopSum, f.Used = chunk.Addr, ptr.Sum, 0
		f.Count += uint64(1 + len(entries))
	}
	return nil
}

// ErrAllocatorDone is wrapped by every call after a Commit failed (a
// chunk page it could not allocate or write, a failed barrier or root
// store) or the first Allocate failed to settle a loaded state.
var ErrAllocatorDone = errors.New("page: allocator stopped")
