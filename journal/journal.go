package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"syscall"

	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

// PageExp is the size exponent of journal pages: 4 KiB, one OS page.
// A flush rounds to OS pages anyway (SyncRange writes whole OS pages), so
// smaller pages would save no I/O; and with one journal page per OS page,
// a media fault (a misdirected write replaces a whole OS page) erases at
// most one journal page, never the pages after it that vouch for it.
const PageExp = 12

// A journal page's payload: the address of the page after it, the LSN of
// its first stream byte, the durable sequence number (every journal page
// of a lower sequence number was durable when this one was written), the
// offset of the first entry starting in it (noEntry if none does), the
// checksum of the page before it, then stream bytes.
//
// The durable sequence number is the journal's testimony against the
// media: a read that stops at a page some surviving page, or the root
// state, says was durable has met a lost write, not the end of the
// journal, and reports it rather than return a shorter journal.
//
// The checksum of the page before is the link's expectation read
// backwards: a page that an earlier writer left at an address the
// journal now links to, whole and of the very sequence number and LSN
// the link expects (a spare whose scrub the device lost), followed
// another page, and ends the journal instead of continuing it.
//
// The root generation a page was written under guards the head page,
// which has no page before it: a root state that makes the head a page
// not yet written (the journal trimmed to nothing) names its own
// generation as JournalHeadGen, and only a page written under it or a
// later one reads as the head there. An earlier writer's whole page at
// that address (its scrub lost) was written under an older one.
const (
	pageHead   = 8 + 8 + 8 + 4 + 4 + 8
	durableOff = 16 // where the durable sequence number is in the payload
	firstOff   = 24 // where the first entry's offset is
	prevOff    = 28 // where the checksum of the page before is
	genOff     = 32 // where the root generation it was written under is
	noEntry    = ^uint32(0)
)

// PageStream is the number of stream bytes (entries, framed) a journal
// page carries.
const PageStream = 1<<PageExp - page.HeaderSize - page.StampBytes*(1<<(PageExp-page.MinExp)-1) - pageHead

// Writer appends entries to the journal. The journal's pages are its own
// durably before any page links to them: new pages come from spares the
// root state lists, refilled through the owner's commit.
//
// The rule of reuse: a journal address is written with sequence number q
// only when no image a crash could leave there can validate as page q
// other than the one being written. Fresh spares hold pages of lower
// sequence numbers or of other kinds, which cannot; a writer resumed
// after a crash first scrubs every page it may write that claims a
// sequence number it will write (see Open), since the writer before the
// crash may have left such a page there, torn, for a torn write of the
// new page to complete, or whole, for the new page to link to. Two
// guards hold where the device loses a scrub: journal pages are stamped
// (package page), so no page torn across two writes validates, and each
// page holds the checksum of the page before it, so an earlier writer's
// whole page does not continue the journal. Journal pages sit on OS page
// boundaries, one per OS page, so one write-back or barrier never spans
// two.
//
// Writer is not safe for concurrent use.
type Writer struct {
	s      mmapfile.Storage
	a      *page.Allocator
	commit func() error // stores the root state, calling Fill

	head    int64  // the first page still needed
	headSeq uint64 // its sequence number
	// headGen is a root generation the head page was written under or
	// after; marking is set while the head is a page not yet written
	// that no root state has named a generation for.
	headGen uint64
	marking bool
	next    int64  // where the next page goes
	seq     uint64 // the next page's sequence number
	lsn     uint64 // the LSN of the next stream byte
	spares  []int64
	durable int    // spares[:durable] are in a durable root state
	prevSum uint32 // the checksum of the last page written
	// durableSeq is the durable sequence number: every page of a lower
	// sequence number has been made durable.
	durableSeq uint64

	pages   []written // from head on
	buf     []byte    // entries appended and not flushed
	starts  []int     // offsets in buf where entries start
	pageBuf []byte
	// unsynced holds the pages Write wrote, or Open read, that no
	// barrier is known to cover.
	unsynced []int64
	// ballast lets the next Write use the allocator's ballast, as the
	// Room before it did.
	ballast bool
	// refillCap is how many spares the next refill takes where room
	// found no room for MaxJournalSpare, or at Create; zero for that
	// many.
	refillCap int
}

type written struct {
	addr     int64
	seq      uint64
	lsn, end uint64 // the stream bytes [lsn, end) it holds
	gen      uint64 // the root generation it was written under
}

// Create starts the journal of a new file: it allocates its first page
// and spares from a and stores the root state through commit. commit
// must store a root state the Writer's Fill has filled; nil means
// a.Commit(w.Fill), for an owner with no fields of its own.
func Create(s mmapfile.Storage, a *page.Allocator, commit func() error) (*Writer, error) {
	w := &Writer{s: s, a: a, seq: 1, headSeq: 1, durableSeq: 1, marking: true}
	w.setCommit(commit)
	r, err := a.Allocate(PageExp)
	if err != nil {
		return nil, err
	}
	w.head, w.next = r.Addr, r.Addr
	w.refillCap = createSpares
	if err := w.refill(); err != nil {
		return nil, err
	}
	return w, nil
}

// createSpares is how many spares a new journal takes: a new file stays
// small, and the first refill takes MaxJournalSpare.
const createSpares = 16

// ErrNoJournal is returned by Open for a file whose root state has no
// journal.
var ErrNoJournal = errors.New("journal: the file has no journal")

// Open resumes the journal after Read: the next page goes where the
// valid prefix ends. Before it returns, the page there and every spare
// whose first sector claims a sequence number the writer will write,
// valid or torn, have that sector zeroed behind a barrier.
func Open(s mmapfile.Storage, a *page.Allocator, st page.State, t Tail, commit func() error) (*Writer, error) {
	w, err := resume(s, a, st, t, commit)
	if err != nil {
		return nil, err
	}
	if err := w.scrubReused(t.NextSeq); err != nil {
		return nil, err
	}
	return w, nil
}

// OpenReadOnly is Open for an owner that will write nothing: it scrubs
// nothing, so it writes nothing, and the Writer it returns serves Owned
// and End only. A Writer opened so must never write: nothing made the
// pages it would reuse unable to validate.
func OpenReadOnly(s mmapfile.Storage, a *page.Allocator, st page.State, t Tail) (*Writer, error) {
	return resume(s, a, st, t, nil)
}

// resume is Open up to the scrub.
func resume(s mmapfile.Storage, a *page.Allocator, st page.State, t Tail, commit func() error) (*Writer, error) {
	if st.JournalHead == 0 || t.Next == 0 {
		return nil, ErrNoJournal
	}
	for _, addr := range append([]int64{t.Next}, st.JournalSpare[:st.JournalSpareCount]...) {
		if !(page.Ref{Addr: addr, Exp: PageExp}).Within(st.End) {
			return nil, &page.CorruptError{Page: addr, Reason: fmt.Sprintf("a journal page past the allocator's end %d", st.End)}
		}
	}
	w := &Writer{s: s, a: a, head: st.JournalHead, headSeq: st.JournalSeq, headGen: st.JournalHeadGen, next: t.Next, seq: t.NextSeq, lsn: t.EndLSN, pages: slices.Clone(t.pages), prevSum: t.lastSum}
	// With no page read, the head is the page the next one goes to, and
	// a writer before the crash may have written it under the
	// generation the state names: the next state names a later one.
	w.marking = len(t.pages) == 0
	w.setCommit(commit)
	// What the read found durable stays so. The pages read past it may
	// never have met a barrier (a process that dies leaves its writes to
	// the kernel): the first Flush syncs them, before any page says they
	// are durable. It does not write them again: a page that is durable
	// already would be at risk from a write torn by a power loss.
	w.durableSeq = max(st.JournalDurable, t.durableSeq, st.JournalSeq)
	for _, p := range t.pages {
		if p.seq >= w.durableSeq {
			w.unsynced = append(w.unsynced, p.addr)
		}
	}
	// Spares the crash left listed may have been written since: those in
	// the valid prefix, and the page it links to, are taken.
	taken := map[int64]bool{t.Next: true}
	for _, p := range t.pages {
		taken[p.addr] = true
	}
	for _, sp := range st.JournalSpare[:st.JournalSpareCount] {
		if !taken[sp] {
			w.spares = append(w.spares, sp)
		}
	}
	w.durable = len(w.spares)
	return w, nil
}

// scrubReused makes every page the resumed writer may write, the one the
// read stopped at and the spares, unable to validate as a journal page of
// a sequence number it will write (nextSeq on), before it writes any.
//
// The rule it keeps: a journal address is written with sequence number q
// only if no image a crash could leave there can validate as page q other
// than the one written. A crash may have left, at those addresses, pages
// the writer before it wrote after its last barrier, whole or torn, with
// the very sequence numbers the resumed writer gives its own. Its new
// page q, torn by a later crash the other way (the first sector not
// written, the later ones written), would complete such an old torn page
// into a valid one: zeros past a small payload are the same in both. The
// old page would come back as part of the journal, with the transactions
// it held, which the recovery in between discarded or decided otherwise.
//
// A page's first sector holds its header: once that sector holds zeros,
// no image of the page validates unless the header comes from a write
// made since, and then only as that write (the checksum covers the
// rest). So the first sector alone is zeroed, behind a barrier, and only
// where the header there claims a journal page of sequence nextSeq or
// later, valid or not. A crash while zeroing leaves that sector as it was
// or zero, never a page that could not be there before. Pages of lower
// sequence numbers (a journal trimmed long ago whose pages came back as
// spares) and pages of other kinds no read can take for a new page: they
// stay, so that opening a file opened cleanly before writes nothing.
func (w *Writer) scrubReused(nextSeq uint64) error {
	zeros := make([]byte, page.MinBytes)
	for _, addr := range append([]int64{w.next}, w.spares...) {
		if !claimsSeq(w.s.Bytes(addr, page.HeaderSize), nextSeq) {
			continue
		}
		if mutant.On(mutant.JournalReuseUnscrubbed) {
			continue
		}
		if err := w.s.WriteAt(zeros, addr); err != nil {
			return err
		}
		if err := w.s.SyncRange(addr, page.MinBytes); err != nil {
			return err
		}
	}
	return nil
}

// claimsSeq reports whether header, a page's first bytes, names a journal
// page of sequence nextSeq or later, checksum unchecked.
func claimsSeq(header []byte, nextSeq uint64) bool {
	h, ok := page.RawHeader(header)
	return ok && h.Type == page.TypeJournal && h.Seq >= nextSeq
}

func (w *Writer) setCommit(commit func() error) {
	w.commit = commit
	if commit == nil {
		w.commit = func() error { return w.a.Commit(w.Fill) }
	}
}

// Fill sets the journal's fields of the root state the owner is about to
// store: its head, the generation the head page is written under or
// after, its durable sequence number and its spares. The first state
// that makes the head a page not yet written names its own generation:
// the page is written after that state is durable.
func (w *Writer) Fill(st *page.State) {
	if w.marking && !mutant.On(mutant.JournalHeadUnmarked) {
		w.headGen, w.marking = st.Gen, false
	}
	st.JournalHead, st.JournalSeq, st.JournalDurable, st.JournalHeadGen = w.head, w.headSeq, w.durableSeq, w.headGen
	clear(st.JournalSpare[:])
	st.JournalSpareCount = copy(st.JournalSpare[:], w.spares)
}

// Committed tells the journal the owner's commit returned: the spares it
// held are durable.
func (w *Writer) Committed() { w.durable = len(w.spares) }

// Append adds e to the journal and returns its LSN. It is not durable
// until Flush returns.
func (w *Writer) Append(e Entry) (uint64, error) {
	lsn := w.lsn + uint64(len(w.buf))
	n := len(w.buf)
	b, err := appendEntry(w.buf, &e)
	if err != nil {
		return 0, err
	}
	w.buf = b
	w.starts = append(w.starts, n)
	return lsn, nil
}

// End returns the LSN the next entry appended will have.
func (w *Writer) End() uint64 { return w.lsn + uint64(len(w.buf)) }

// Flush writes the entries appended since the last Flush into new pages
// and makes them, and every page Write wrote before, durable with
// SyncRange, one call per run of adjacent pages. When it needs more spare pages than the root state
// holds, it allocates them and stores the root state through the owner's
// commit first.
func (w *Writer) Flush() error {
	if err := w.Write(); err != nil {
		return err
	}
	if err := w.syncWritten(); err != nil {
		return err
	}
	w.durableSeq = w.seq
	return nil
}

// syncWritten makes the pages written since the last barrier durable,
// with one SyncRange per run of adjacent pages: spares taken from the
// file's end are usually contiguous, and every SyncRange is a system
// call and a device flush of its own.
func (w *Writer) syncWritten() error {
	if mutant.On(mutant.JournalPageUnsynced) && len(w.unsynced) > 0 {
		w.unsynced = w.unsynced[:len(w.unsynced)-1] // the last page written
	}
	slices.Sort(w.unsynced)
	for i := 0; i < len(w.unsynced); {
		j := i + 1
		for j < len(w.unsynced) && w.unsynced[j] == w.unsynced[j-1]+1<<PageExp {
			j++
		}
		if err := w.s.SyncRange(w.unsynced[i], int64(j-i)<<PageExp); err != nil && !mutant.On(mutant.SyncErrorIgnored) {
			return err
		}
		i = j
	}
	w.unsynced = w.unsynced[:0]
	return nil
}

// Write writes the entries appended since the last Write into new pages
// without a barrier: a process that dies after Write loses none of them,
// a power loss may lose any page not made durable since, and with it every
// page after it, so the journal that survives is always a prefix.
//
// Before it writes anything it makes sure the allocator can give every
// spare page it will need without growing the file; where it cannot, it
// writes nothing and returns an error wrapping ErrNoRoom (and ENOSPC on
// a full disk), and Rewind may take the entries back.
func (w *Writer) Write() error {
	if err := w.room(); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: %w", ErrNoRoom, err)
		}
		return err
	}
	if err := w.mark(); err != nil {
		return err
	}
	for off := 0; off < len(w.buf); {
		n := min(PageStream, len(w.buf)-off)
		first := noEntry
		if i, _ := slices.BinarySearch(w.starts, off); i < len(w.starts) && w.starts[i] < off+n {
			first = uint32(w.starts[i] - off)
		}
		after, err := w.takeSpare()
		if err != nil {
			return err
		}
		p := make([]byte, pageHead, pageHead+n)
		binary.LittleEndian.PutUint64(p, uint64(after))
		binary.LittleEndian.PutUint64(p[8:], w.lsn)
		binary.LittleEndian.PutUint64(p[durableOff:], w.durableSeq)
		binary.LittleEndian.PutUint32(p[firstOff:], first)
		binary.LittleEndian.PutUint32(p[prevOff:], w.prevSum)
		gen := w.a.Gen() // after takeSpare, whose refill may store a state
		binary.LittleEndian.PutUint64(p[genOff:], gen)
		p = append(p, w.buf[off:off+n]...)
		if w.pageBuf == nil {
			w.pageBuf = make([]byte, 1<<PageExp)
		}
		h := page.Header{Exp: PageExp, Type: page.TypeJournal, Addr: w.next, Seq: w.seq}
		ptr, err := page.WritePtr(w.s, w.pageBuf, h, p)
		if err != nil {
			return err
		}
		w.prevSum = ptr.Sum
		w.unsynced = append(w.unsynced, w.next)
		w.pages = append(w.pages, written{addr: w.next, seq: w.seq, lsn: w.lsn, end: w.lsn + uint64(n), gen: gen})
		w.next, w.seq, w.lsn = after, w.seq+1, w.lsn+uint64(n)
		off += n
	}
	w.buf, w.starts = w.buf[:0], w.starts[:0]
	w.ballast = false
	return nil
}

// mark makes sure, before Write writes a page, that the pages it writes
// carry a generation no writer before this one wrote under where they
// must: the state the allocator was loaded with is made durable, so no
// crash brings back the one before for a later writer to store this
// generation again; and the head page, not yet written, is written
// under a generation a root state names for it, stored first where
// none has since the head became the page to write.
func (w *Writer) mark() error {
	if len(w.buf) == 0 || mutant.On(mutant.JournalHeadUnmarked) {
		return nil
	}
	if err := w.a.Settle(); err != nil {
		return err
	}
	if !w.marking {
		return nil
	}
	if err := w.commit(); err != nil {
		return err
	}
	w.Committed()
	return nil
}

// ErrNoRoom is wrapped by Write and Flush when the file has no room for
// the pages the entries need (the disk is full: the error wraps ENOSPC
// too): nothing was written.
var ErrNoRoom = errors.New("journal: no room for the entries")

// room reserves what writing the entries appended may allocate: the
// spare pages of the refills it takes, and the chunk pages of the
// commits that store them. Where a full refill does not fit and one
// refill of fewer spares covers the entries, it reserves that, and the
// refill takes only those (a full disk, where a delete must still find
// a journal page).
func (w *Writer) room() error {
	_, err := w.reserveOwn(w.ballast)
	return err
}

// reserveOwn is room, returning what it reserved.
func (w *Writer) reserveOwn(ballast bool) (page.Need, error) {
	w.refillCap = 0
	short := (len(w.buf)+PageStream-1)/PageStream - w.durable
	var mark page.Need
	if w.marking && len(w.buf) > 0 {
		mark = w.a.CommitNeed(page.Need{}) // the commit that names the head's generation
	}
	if short <= 0 {
		return mark, w.a.Reserve(mark, ballast)
	}
	n := w.refillNeed((short+page.MaxJournalSpare-1)/page.MaxJournalSpare, page.MaxJournalSpare).Plus(mark)
	err := w.a.Reserve(n, ballast)
	if errors.Is(err, syscall.ENOSPC) && short < page.MaxJournalSpare {
		small := w.refillNeed(1, short).Plus(mark)
		if w.a.Reserve(small, ballast) == nil {
			w.refillCap = short
			return small, nil
		}
	}
	return n, err
}

// refillNeed returns what refills refills of spares spare pages each
// allocate, with the chunk pages of the commits that store them.
func (w *Writer) refillNeed(refills, spares int) page.Need {
	var one page.Need
	one.Add(PageExp, spares)
	one = one.Plus(w.a.CommitNeed(one))
	var n page.Need
	for c := range n {
		n[c] = refills * one[c]
	}
	return n
}

// Room makes sure the file has room for what writing the entries
// appended may allocate and, besides, for extra: what the owner must
// still be able to allocate after them (the pages of the checkpoint
// that frees this journal). With ballast, both may use the allocator's
// ballast, and so may the Write or Flush that follows: for entries that
// only free pages. Like Write, it fails with
// an error wrapping ErrNoRoom (and ENOSPC on a full disk), and then
// Rewind may take the entries back.
func (w *Writer) Room(extra page.Need, ballast bool) error {
	own, err := w.reserveOwn(ballast)
	if err == nil && extra != (page.Need{}) {
		err = w.a.ReserveAhead(own.Plus(extra), ballast)
	}
	w.ballast = err == nil && ballast
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: %w", ErrNoRoom, err)
		}
		return err
	}
	return nil
}

// Pages returns how many pages the journal will hold from its head on
// once the entries appended are written: what a trim of all of it frees.
func (w *Writer) Pages() int {
	return len(w.pages) + (len(w.buf)+PageStream-1)/PageStream
}

// PagesSince returns how many pages will hold stream bytes from lsn on
// once the entries appended are written: the journal's size since a
// checkpoint at lsn, counted in pages.
func (w *Writer) PagesSince(lsn uint64) int {
	i, _ := slices.BinarySearchFunc(w.pages, lsn, func(p written, lsn uint64) int {
		if p.end <= lsn {
			return -1
		}
		return 1
	})
	return len(w.pages) - i + (len(w.buf)+PageStream-1)/PageStream
}

// A Mark is a point in the entries appended, for Rewind.
type Mark struct{ buf, starts int }

// Mark returns the point Rewind goes back to.
func (w *Writer) Mark() Mark { return Mark{len(w.buf), len(w.starts)} }

// Rewind drops the entries appended since m, which no Write since may
// have written, as after a Write that failed with ErrNoRoom.
func (w *Writer) Rewind(m Mark) {
	if m.buf <= len(w.buf) && m.starts <= len(w.starts) {
		w.buf, w.starts = w.buf[:m.buf], w.starts[:m.starts]
	}
	w.ballast = false
}

// takeSpare returns a page that is durably the journal's, refilling the
// spares through a commit when none is.
func (w *Writer) takeSpare() (int64, error) {
	if w.durable == 0 {
		if err := w.refill(); err != nil {
			return 0, err
		}
	}
	sp := w.spares[0]
	w.spares = w.spares[1:]
	w.durable--
	return sp, nil
}

func (w *Writer) refill() error {
	limit := page.MaxJournalSpare
	if w.refillCap > 0 {
		limit, w.refillCap = w.refillCap, 0
	}
	for len(w.spares) < limit {
		r, err := w.a.Allocate(PageExp)
		if err != nil {
			return err
		}
		w.spares = append(w.spares, r.Addr)
	}
	// The root state the commit stores lists neither the spares taken
	// since the last refill nor the page the next one goes to: from then
	// on only the chain reaches the pages written there, so they must be
	// durable first. The owner's commit syncs its own pages only.
	if !mutant.On(mutant.RefillUnsynced) {
		if err := w.syncWritten(); err != nil {
			return err
		}
	}
	if err := w.commit(); err != nil {
		return err
	}
	w.Committed()
	return nil
}

// Trim gives up the pages before the one holding lsn, which must be the
// LSN of an entry or the end of what was flushed: no entry before lsn is
// needed any more. The pages are freed, and the head moves, with the next
// commit.
func (w *Writer) Trim(lsn uint64) error {
	i := 0
	for i < len(w.pages) && w.pages[i].end <= lsn {
		if err := w.a.Free(page.Ref{Addr: w.pages[i].addr, Exp: PageExp}); err != nil {
			return err
		}
		i++
	}
	if i == 0 {
		return nil
	}
	w.pages = slices.Delete(w.pages, 0, i)
	if len(w.pages) > 0 {
		w.head, w.headSeq, w.headGen, w.marking = w.pages[0].addr, w.pages[0].seq, w.pages[0].gen, false
	} else {
		// The next commit's Fill names the generation.
		w.head, w.headSeq, w.marking = w.next, w.seq, true
	}
	return nil
}

// Owned returns the journal's pages: those written from the head on, and
// reserved, the one the next page goes to and the spares.
func (w *Writer) Owned() page.Owned {
	var o page.Owned
	for _, p := range w.pages {
		o.Reachable = append(o.Reachable, page.Ref{Addr: p.addr, Exp: PageExp})
	}
	o.Reserved = append(o.Reserved, page.Ref{Addr: w.next, Exp: PageExp})
	for _, sp := range w.spares {
		o.Reserved = append(o.Reserved, page.Ref{Addr: sp, Exp: PageExp})
	}
	return o
}

// Tail is where a read of the journal stopped.
type Tail struct {
	// Next is where the next page goes, NextSeq its sequence number,
	// EndLSN the LSN of the next stream byte.
	Next    int64
	NextSeq uint64
	EndLSN  uint64
	// Entries is the number of entries read.
	Entries int
	// Stopped says why the read stopped at Next: the page there is
	// unwritten, torn, stale or corrupt. It is informational: every
	// journal ends so.
	Stopped error
	// Cut reports an entry cut short at the end, not decoded; EndLSN is
	// its LSN, where a resumed writer goes on.
	Cut bool

	pages      []written
	durableSeq uint64 // the highest durable sequence number the pages read carry
	lastSum    uint32 // the checksum of the last page read
}

// Owned returns the journal's pages Read found: those read, and reserved,
// the one the next page goes to and the spares of st.
func (t Tail) Owned(st page.State) page.Owned {
	var o page.Owned
	seen := map[int64]bool{}
	for _, p := range t.pages {
		seen[p.addr] = true
		o.Reachable = append(o.Reachable, page.Ref{Addr: p.addr, Exp: PageExp})
	}
	for _, a := range append([]int64{t.Next}, st.JournalSpare[:st.JournalSpareCount]...) {
		if a != 0 && !seen[a] {
			seen[a] = true
			o.Reserved = append(o.Reserved, page.Ref{Addr: a, Exp: PageExp})
		}
	}
	return o
}

// firstEntry returns where the first entry starting in a page of n
// stream bytes must be, given the partial entry before it, if that is
// known: noEntry if the partial entry fills the page.
func firstEntry(partial []byte, n int) (uint32, bool) {
	switch {
	case len(partial) == 0:
		if n == 0 {
			return noEntry, true
		}
		return 0, true
	case len(partial) < frameBytes:
		return 0, false // the length itself is cut: cannot tell
	}
	rest := frameBytes + int(binary.LittleEndian.Uint32(partial)) - len(partial)
	if rest >= n {
		return noEntry, true
	}
	return uint32(rest), true
}

// Read reads the journal of root state st from its head and calls fn
// with each complete entry and its LSN, in order; Data is only valid
// during the call. It stops at the first page that is not the valid
// successor of the one before (unwritten, torn, stale, corrupt) and
// returns where; an error is fn's, or a *page.CorruptError for a page
// that passes its checksum but breaks the journal's own rules (among
// them a page written under a root generation later than st's: st is
// not the newest root state made durable, a lost write of a root copy
// brought it back), or for the
// page it stopped at when that page was durable: the root state, or a
// page among the root state's spares, says so. Memory is one
// entry and a few words per page read: the pages from the head, which
// trimming keeps to those of transactions not yet cleaned.
func Read(s mmapfile.Storage, st page.State, fn func(lsn uint64, e Entry) error) (Tail, error) {
	t := Tail{Next: st.JournalHead, NextSeq: st.JournalSeq}
	if st.JournalHead == 0 {
		return t, nil
	}
	var (
		partial  []byte // bytes of an entry not yet complete
		partLSN  uint64 // its LSN
		started  bool   // the stream position is known
		expected uint64 // the LSN the next page must start at
	)
	for {
		if !page.Aligned(t.Next, PageExp) {
			return t, &page.CorruptError{Page: t.Next, Reason: "a journal page not on an OS page boundary"}
		}
		h, p, err := page.Read(s, t.Next)
		if err == nil && (h.Type != page.TypeJournal || h.Exp != PageExp || h.Seq != t.NextSeq || len(p) < pageHead) {
			err = fmt.Errorf("journal: page %d is a %v page of sequence %d, want journal page %d", t.Next, h.Type, h.Seq, t.NextSeq)
		}
		if err == nil && started {
			if prev := binary.LittleEndian.Uint32(p[prevOff:]); prev != t.lastSum {
				err = fmt.Errorf("journal: page %d of sequence %d follows a page of checksum %08x, not the page before it (%08x): an earlier writer's page", t.Next, h.Seq, prev, t.lastSum)
			}
		}
		if err == nil && !started && !mutant.On(mutant.JournalHeadUnmarked) {
			if gen := binary.LittleEndian.Uint64(p[genOff:]); gen < st.JournalHeadGen {
				err = fmt.Errorf("journal: head page %d of sequence %d was written under root generation %d, before %d made it the head: an earlier writer's page", t.Next, h.Seq, gen, st.JournalHeadGen)
			}
		}
		if err != nil {
			t.Stopped = err
			break
		}
		if gen := binary.LittleEndian.Uint64(p[genOff:]); gen > st.Gen && !mutant.On(mutant.LostFreeUnreported) {
			// A page is written under a generation only once the root
			// state of that generation is durable (its Store's barrier
			// returned): a later generation than the state loaded is a
			// newer root state lost, whose free lists no longer list
			// the pages its journal went on into.
			return t, &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("journal page of sequence %d was written under root generation %d, after root state %d: a newer root state is lost", h.Seq, gen, st.Gen)}
		}
		after := int64(binary.LittleEndian.Uint64(p))
		lsn := binary.LittleEndian.Uint64(p[8:])
		t.durableSeq = max(t.durableSeq, binary.LittleEndian.Uint64(p[durableOff:]))
		first := binary.LittleEndian.Uint32(p[firstOff:])
		data := p[pageHead:]
		switch {
		case !started:
			// The head page: begin at its first entry.
			if first == noEntry || int(first) > len(data) {
				return t, &page.CorruptError{Page: t.Next, Reason: "the journal's head page starts no entry"}
			}
			lsn += uint64(first)
			data = data[first:]
			started = true
		case lsn == expected:
			if want, ok := firstEntry(partial, len(data)); ok && first != want {
				return t, &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("journal page says its first entry is at %d, the stream says %d", first, want)}
			}
		case len(partial) > 0 && lsn == partLSN && first == 0:
			// The writer resumed after a crash that cut this entry:
			// drop it and read on, the pages before holding nothing
			// of the stream past it.
			partial = partial[:0]
			if !mutant.On(mutant.CutEntryUnclipped) {
				clip(t.pages, partLSN)
			}
		default:
			return t, &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("journal page starts at LSN %d, want %d", lsn, expected)}
		}
		if !(page.Ref{Addr: after, Exp: PageExp}).Within(math.MaxInt64) {
			return t, &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("journal page links to %d", after)}
		}
		// Complete entries from partial + data.
		pos := lsn
		for len(data) > 0 {
			if len(partial) == 0 {
				partLSN = pos
			}
			need := frameBytes
			if len(partial) >= frameBytes {
				n := uint64(binary.LittleEndian.Uint32(partial))
				if n == 0 || n+frameBytes > MaxEntryBytes {
					return t, &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("a journal entry of %d bytes", n+frameBytes)}
				}
				need = frameBytes + int(n)
			}
			k := min(need-len(partial), len(data))
			partial = append(partial, data[:k]...)
			data, pos = data[k:], pos+uint64(k)
			if len(partial) <= frameBytes {
				continue // the length alone so far: read on for the body
			}
			if len(partial) < need {
				continue
			}
			e, err := decodeEntry(partial[frameBytes:])
			if err != nil {
				return t, &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("entry at LSN %d: %v", partLSN, err)}
			}
			if err := fn(partLSN, e); err != nil {
				return t, err
			}
			t.Entries++
			partial = partial[:0]
		}
		t.pages = append(t.pages, written{addr: t.Next, seq: t.NextSeq, lsn: lsn, end: pos, gen: binary.LittleEndian.Uint64(p[genOff:])})
		t.lastSum = page.Sum(s, t.Next)
		expected = pos
		t.Next, t.NextSeq = after, t.NextSeq+1
	}
	t.EndLSN = expected
	if len(partial) > 0 {
		t.Cut, t.EndLSN = true, partLSN
		clip(t.pages, partLSN)
	}
	if err := lost(s, st, t); err != nil {
		return t, err
	}
	return t, nil
}

// clip ends the stream ranges of pages at cut, the LSN of an entry a
// crash cut short: a resumed writer writes the stream again from there,
// so the bytes past it in those pages are no longer the journal's, and a
// page holding only such bytes holds nothing a trim past the cut must
// keep. Left unclipped, such a page could become the head after a trim,
// and it starts no entry.
func clip(pages []written, cut uint64) {
	for i := range pages {
		p := &pages[i]
		p.lsn, p.end = min(p.lsn, cut), min(p.end, cut)
	}
}

// lost returns a *page.CorruptError if the OS page holding the page a
// read stopped at was overwritten by a misdirected write (see
// page.Misplaced), or if that page was
// durable: the root state or one of its spares says every page before a
// higher sequence number was. The spares are where the pages after it
// went, the ones a lost page's link no longer leads to. (A page read
// cannot testify: it comes before the stop, and no page vouches for
// itself or a later one.) With nothing after it to testify, losing the
// last pages flushed looks like a crash before their barrier, and is
// taken for one.
func lost(s mmapfile.Storage, st page.State, t Tail) error {
	// A misdirected write replaces a whole OS page: a page there that
	// belongs elsewhere shows it, even where the page the read stopped
	// at reads as unwritten.
	for base, a := t.Next&^(mmapfile.PageBytes-1), int64(0); a < mmapfile.PageBytes; a += page.MinBytes {
		if own, ok := page.Misplaced(s, base+a); ok {
			return &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("journal page of sequence %d is lost: a misdirected write put the page that belongs at %d at %d", t.NextSeq, own, base+a)}
		}
	}
	// A whole page where the next one goes, written after the root
	// state was (a journal page of a later sequence number, another page
	// under a later root generation), shows that a newer root state was
	// durable and is lost: no crash leaves one there, since the journal
	// writes that address with sequence NextSeq first and nothing else
	// reuses it before a newer root state frees it.
	if h, _, ok := page.Probe(s, t.Next); ok {
		if h.Type == page.TypeJournal && h.Seq > t.NextSeq || h.Type != page.TypeJournal && h.Seq > st.Gen {
			return &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("where journal page of sequence %d goes, a %v page of sequence %d written after root state %d: a newer root state is lost", t.NextSeq, h.Type, h.Seq, st.Gen)}
		}
	}
	witness, claim := "the root state", st.JournalDurable
	for _, sp := range st.JournalSpare[:st.JournalSpareCount] {
		h, p, ok := page.Probe(s, sp)
		if !ok || h.Type != page.TypeJournal || h.Exp != PageExp || len(p) < pageHead {
			continue
		}
		if d := binary.LittleEndian.Uint64(p[durableOff:]); d > claim {
			witness, claim = fmt.Sprintf("journal page %d of sequence %d", sp, h.Seq), d
		}
	}
	if claim <= t.NextSeq {
		return nil
	}
	why := t.Stopped.Error()
	if ce := (*page.CorruptError)(nil); errors.As(t.Stopped, &ce) {
		why = ce.Reason
	}
	return &page.CorruptError{Page: t.Next, Reason: fmt.Sprintf("journal page of sequence %d is lost (%s), yet %s says every page before sequence %d was durable", t.NextSeq, why, witness, claim)}
}
