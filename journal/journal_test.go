package journal_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"pgregory.net/rapid"
)

type fataler interface {
	Helper()
	Fatal(...any)
}

func must(t fataler, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fixture is a formatted file with an allocator and a journal.
type fixture struct {
	s *mmapfile.Memory
	a *page.Allocator
	w *journal.Writer
}

func newFixture(t fataler) *fixture {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	st, err := page.Format(s)
	must(t, err)
	a := page.NewAllocator(s, st)
	w, err := journal.Create(s, a, nil)
	must(t, err)
	return &fixture{s, a, w}
}

// commit stores the root state with the journal's fields.
func (f *fixture) commit(t fataler) {
	must(t, f.a.Commit(f.w.Fill))
	f.w.Committed()
}

type logged struct {
	lsn uint64
	e   journal.Entry
}

func readAll(t fataler, s mmapfile.Storage) ([]logged, journal.Tail) {
	st, err := page.Load(s)
	must(t, err)
	var got []logged
	tail, err := journal.Read(s, st, func(lsn uint64, e journal.Entry) error {
		e.Data = bytes.Clone(e.Data)
		got = append(got, logged{lsn, e})
		return nil
	})
	must(t, err)
	return got, tail
}

func entryGen() *rapid.Generator[journal.Entry] {
	return rapid.Custom(func(t *rapid.T) journal.Entry {
		e := journal.Entry{
			Kind: journal.Kind(rapid.IntRange(int(journal.KindStart), int(journal.KindSlotBefore)).Draw(t, "kind")),
			Tx:   rapid.Uint64().Draw(t, "tx"),
			A:    rapid.Uint64Range(0, 1<<40).Draw(t, "a"),
			B:    rapid.Uint64Range(0, 300).Draw(t, "b"),
		}
		switch e.Kind {
		case journal.KindStart, journal.KindInsert, journal.KindPageAllocated, journal.KindPageFreed,
			journal.KindCommit, journal.KindRollback, journal.KindCleanup:
		case journal.KindPrepare:
			e.Data = rapid.SliceOfN(rapid.Byte(), 0, journal.MaxTxIDBytes).Draw(t, "txid")
		case journal.KindCreateSegment, journal.KindDropSegment, journal.KindCreateIndex, journal.KindDropIndex:
			e.Data = rapid.SliceOfN(rapid.Byte(), 1, 40).Draw(t, "name")
		default:
			e.Data = rapid.SliceOfN(rapid.Byte(), 0, 3000).Draw(t, "image")
		}
		if len(e.Data) == 0 {
			e.Data = nil
		}
		return e
	})
}

func TestAppendFlushRead(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newFixture(t)
		var want []logged
		for range rapid.IntRange(1, 5).Draw(t, "flushes") {
			for _, e := range rapid.SliceOfN(entryGen(), 0, 8).Draw(t, "entries") {
				lsn, err := f.w.Append(e)
				must(t, err)
				want = append(want, logged{lsn, e})
			}
			must(t, f.w.Flush())
		}
		got, tail := readAll(t, f.s)
		if !slices.EqualFunc(got, want, equal) {
			t.Fatalf("read %d entries, appended %d:\n%v\n%v", len(got), len(want), got, want)
		}
		if tail.Cut {
			t.Fatalf("a clean journal read with an entry cut at %d", tail.EndLSN)
		}
		// Every page the journal holds is accounted for.
		f.commit(t)
		st, _ := page.Load(f.s)
		_, tail = readAll(t, f.s)
		if errs := page.Check(f.s, st, tail.Owned(st)); len(errs) > 0 {
			t.Fatal(errs)
		}
	})
}

func equal(a, b logged) bool {
	return a.lsn == b.lsn && a.e.Kind == b.e.Kind && a.e.Tx == b.e.Tx && a.e.A == b.e.A && a.e.B == b.e.B &&
		a.e.C == b.e.C && bytes.Equal(a.e.Data, b.e.Data)
}

func TestEntryLimits(t *testing.T) {
	f := newFixture(t)
	for name, e := range map[string]journal.Entry{
		"kind zero":        {},
		"kind unknown":     {Kind: 200},
		"long tx id":       {Kind: journal.KindPrepare, Data: make([]byte, journal.MaxTxIDBytes+1)},
		"empty name":       {Kind: journal.KindCreateSegment},
		"long name":        {Kind: journal.KindCreateIndex, Data: make([]byte, journal.MaxNameBytes+1)},
		"long commit id":   {Kind: journal.KindCommit, Data: make([]byte, journal.MaxTxIDBytes+1)},
		"data on rollback": {Kind: journal.KindRollback, Data: []byte{1}},
		"huge image":       {Kind: journal.KindUpdate, Data: make([]byte, journal.MaxEntryBytes)},
	} {
		if _, err := f.w.Append(e); !errors.Is(err, journal.ErrEntry) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, k := range []journal.Kind{journal.KindPrepare, journal.KindCommit} {
		if _, err := f.w.Append(journal.Entry{Kind: k, Data: make([]byte, journal.MaxTxIDBytes)}); err != nil {
			t.Errorf("a %v entry's transaction id of exactly %d bytes: %v", k, journal.MaxTxIDBytes, err)
		}
	}
}

// lastPage returns the address of the journal's last written page.
func lastPage(t fataler, s mmapfile.Storage) int64 {
	st, err := page.Load(s)
	must(t, err)
	_, tail := readAll(t, s)
	var last int64
	for _, r := range tail.Owned(st).Reachable {
		if h, _, err := page.Read(s, r.Addr); err == nil && h.Type == page.TypeJournal && h.Seq == tail.NextSeq-1 {
			last = r.Addr
		}
	}
	if last == 0 {
		t.Fatal("no last page")
	}
	return last
}

// TestTornTailAndResume: the last page of a flush torn by a crash ends the
// journal there, the entry it cut is never decoded, and a writer resumed
// after reading goes on where the valid prefix ends.
func TestTornTailAndResume(t *testing.T) {
	f := newFixture(t)
	small := journal.Entry{Kind: journal.KindStart, Tx: 1}
	big := journal.Entry{Kind: journal.KindUpdate, Tx: 1, Data: bytes.Repeat([]byte{7}, 10000)}
	lsn0, _ := f.w.Append(small)
	must(t, f.w.Flush())
	_, _ = f.w.Append(big) // spans three pages
	must(t, f.w.Flush())
	// Crash while the last page was written: one byte of it differs.
	last := lastPage(t, f.s)
	must(t, f.s.WriteAt([]byte{0xee}, last+700))
	got, tail := readAll(t, f.s)
	if len(got) != 1 || got[0].lsn != lsn0 {
		t.Fatalf("read %v after the tear, want the first entry only", got)
	}
	if !tail.Cut || tail.Stopped == nil {
		t.Fatalf("the tear went unnoticed: %+v", tail)
	}
	var pce *page.CorruptError
	if !errors.As(tail.Stopped, &pce) {
		t.Errorf("stopped by %v, want a *page.CorruptError", tail.Stopped)
	}
	// Resume: the next entry follows the valid prefix.
	st, _ := page.Load(f.s)
	a := page.NewAllocator(f.s, st)
	w, err := journal.Open(f.s, a, st, tail, nil)
	must(t, err)
	after := journal.Entry{Kind: journal.KindCommit, Tx: 1}
	lsn, err := w.Append(after)
	must(t, err)
	must(t, w.Flush())
	got, _ = readAll(t, f.s)
	if len(got) != 2 || got[1].lsn != lsn || got[1].e.Kind != journal.KindCommit {
		t.Fatalf("after resuming read %v", got)
	}
	must(t, a.Commit(w.Fill))
	st, _ = page.Load(f.s)
	_, tail = readAll(t, f.s)
	if errs := page.Check(f.s, st, tail.Owned(st)); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestStalePageEndsTheJournal(t *testing.T) {
	f := newFixture(t)
	for i := range 40 { // several pages, then trim most, reusing them
		_, err := f.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: uint64(i), Data: bytes.Repeat([]byte{byte(i)}, 300)})
		must(t, err)
		must(t, f.w.Flush())
	}
	f.commit(t)
	got, tail := readAll(t, f.s)
	// Put a stale copy of the head page where the next page goes: valid
	// checksum, wrong sequence.
	st, _ := page.Load(f.s)
	head := f.s.Bytes(st.JournalHead, 1<<journal.PageExp)
	stale := make([]byte, len(head))
	h, p, err := page.Decode(head, st.JournalHead)
	must(t, err)
	h.Addr = tail.Next
	must(t, page.Encode(stale, h, p))
	must(t, f.s.WriteAt(stale, tail.Next))
	again, tail2 := readAll(t, f.s)
	if len(again) != len(got) || tail2.Next != tail.Next {
		t.Fatalf("a stale page extended the journal: %d entries, was %d", len(again), len(got))
	}
}

func TestTrimFreesPages(t *testing.T) {
	f := newFixture(t)
	var lsns []uint64
	for i := range 30 {
		lsn, err := f.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: uint64(i), Data: bytes.Repeat([]byte{1}, 500)})
		must(t, err)
		lsns = append(lsns, lsn)
		must(t, f.w.Flush())
	}
	f.commit(t)
	before := len(f.w.Owned().Reachable)
	must(t, f.w.Trim(lsns[25]))
	f.commit(t)
	if after := len(f.w.Owned().Reachable); after >= before-20 {
		t.Fatalf("trimming 25 of 30 one-page entries left %d of %d pages", after, before)
	}
	got, _ := readAll(t, f.s)
	if len(got) == 0 || got[0].lsn > lsns[25] || got[len(got)-1].lsn != lsns[29] {
		t.Fatalf("after the trim read %d entries from LSN %d", len(got), got[0].lsn)
	}
	st, _ := page.Load(f.s)
	_, tail := readAll(t, f.s)
	if errs := page.Check(f.s, st, tail.Owned(st)); len(errs) > 0 {
		t.Fatal(errs)
	}
	// Trim everything: the journal reads empty, and its pages are free.
	end := lsns[29] + 1
	must(t, f.w.Trim(end+1<<20))
	f.commit(t)
	if got, _ := readAll(t, f.s); len(got) != 0 {
		t.Fatalf("a journal trimmed to its end reads %d entries", len(got))
	}
}

// TestPagesSince: each flush of a small entry takes a page, and
// PagesSince counts the pages holding stream bytes from an LSN on,
// entries appended and not yet written included.
func TestPagesSince(t *testing.T) {
	f := newFixture(t)
	var lsns []uint64
	for i := range 10 {
		lsn, err := f.w.Append(journal.Entry{Kind: journal.KindCommit, Tx: uint64(i)})
		must(t, err)
		lsns = append(lsns, lsn)
		must(t, f.w.Flush())
	}
	for i, lsn := range lsns {
		if got := f.w.PagesSince(lsn); got != 10-i {
			t.Fatalf("pages since entry %d: %d, want %d", i, got, 10-i)
		}
	}
	if got := f.w.PagesSince(f.w.End()); got != 0 {
		t.Fatalf("pages since the end: %d", got)
	}
	_, err := f.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 10, Data: bytes.Repeat([]byte{1}, journal.PageStream)})
	must(t, err)
	if got := f.w.PagesSince(lsns[9]); got != 3 {
		t.Fatalf("with an entry of a page's stream appended, pages since the last flush: %d, want 3", got)
	}
}

// FuzzRead reads a journal whose bytes are overwritten: never a panic,
// and every failure a *page.CorruptError.
func FuzzRead(f *testing.F) {
	f.Add(int64(0), []byte{1})
	f.Add(int64(page.HeaderSize+24), []byte{0xff, 0xff, 0xff, 0x7f})
	f.Add(int64(page.HeaderSize+16), []byte{0xff, 0xff})
	f.Add(int64(page.HeaderSize+8), []byte{9, 9})
	f.Fuzz(func(t *testing.T, off int64, patch []byte) {
		fx := newFixture(t)
		for i := range 6 {
			_, err := fx.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: uint64(i), Data: bytes.Repeat([]byte{byte(i)}, 400)})
			must(t, err)
			must(t, fx.w.Flush())
		}
		fx.commit(t)
		st, err := page.Load(fx.s)
		must(t, err)
		// Patch the journal's pages, re-sealed so the checksum passes and
		// the journal's own rules are what is tested.
		pages := fx.w.Owned().Reachable
		r := pages[int(uint64(off)%uint64(len(pages)))]
		buf := bytes.Clone(fx.s.Bytes(r.Addr, int(r.Bytes())))
		h, p, err := page.Decode(buf, r.Addr)
		if err != nil {
			return // a spare, never written
		}
		p = bytes.Clone(p)
		at := int(uint64(off) / uint64(len(pages)) % uint64(len(p)+1))
		p = append(p[:at], append(patch, p[min(at+len(patch), len(p)):]...)...)
		if len(p) > page.Capacity(h.Exp) {
			p = p[:page.Capacity(h.Exp)]
		}
		must(t, page.Encode(buf, h, p))
		must(t, fx.s.WriteAt(buf, r.Addr))
		_, err = journal.Read(fx.s, st, func(uint64, journal.Entry) error { return nil })
		var ce *page.CorruptError
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("not a *page.CorruptError: %v", err)
		}
	})
}

// syncLog records where WriteAt was called, the OS pages SyncRange
// covered, and how many SyncRange calls there were.
type syncLog struct {
	*mmapfile.Memory
	written, synced []int64
	syncCalls       int
}

func (s *syncLog) WriteAt(p []byte, off int64) error {
	s.written = append(s.written, off)
	return s.Memory.WriteAt(p, off)
}

func (s *syncLog) SyncRange(off, n int64) error {
	s.syncCalls++
	for p := off &^ (mmapfile.PageBytes - 1); p < off+n; p += mmapfile.PageBytes {
		s.synced = append(s.synced, p)
	}
	return s.Memory.SyncRange(off, n)
}

// TestFlushSyncsRunsOnce: a flush of entries filling adjacent pages
// makes them durable with one SyncRange per run of adjacent pages, not
// one per page, and covers every page it wrote.
func TestFlushSyncsRunsOnce(t *testing.T) {
	f := newFixture(t)
	rec := &syncLog{Memory: f.s}
	st, err := page.Load(f.s)
	must(t, err)
	_, tail := readAll(t, f.s)
	w, err := journal.Open(rec, page.NewAllocator(rec, st), st, tail, nil)
	must(t, err)
	// The first page a resumed writer writes at an empty journal's head
	// comes after a root state naming its generation; the flush measured
	// is one after it.
	_, err = w.Append(journal.Entry{Kind: journal.KindStart, Tx: 1})
	must(t, err)
	must(t, w.Flush())
	rec.written, rec.synced, rec.syncCalls = nil, nil, 0
	for range 6 {
		_, err := w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 1, Data: bytes.Repeat([]byte{5}, 3800)})
		must(t, err)
	}
	must(t, w.Flush())
	var pages []int64
	for _, off := range rec.written {
		if p := off &^ (mmapfile.PageBytes - 1); !slices.Contains(pages, p) {
			pages = append(pages, p)
		}
	}
	slices.Sort(pages)
	runs := 0
	for i, p := range pages {
		if !slices.Contains(rec.synced, p) {
			t.Fatalf("page %d written and not synced (synced %v)", p, rec.synced)
		}
		if i == 0 || p != pages[i-1]+mmapfile.PageBytes {
			runs++
		}
	}
	if len(pages) < 6 || rec.syncCalls != runs {
		t.Fatalf("a flush over %d pages in %d runs made %d SyncRange calls", len(pages), runs, rec.syncCalls)
	}
}

// TestResumeSyncsWhatItRead: pages a process wrote and died before
// flushing are in the prefix a resumed writer reads, but never met a
// barrier. The resumed writer's first Flush syncs them, and does not write
// them again, before a page of its own says every page before it is.
func TestResumeSyncsWhatItRead(t *testing.T) {
	f := newFixture(t)
	_, err := f.w.Append(journal.Entry{Kind: journal.KindStart, Tx: 1})
	must(t, err)
	must(t, f.w.Flush())
	for range 2 {
		_, err := f.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 1, Data: bytes.Repeat([]byte{3}, 3800)})
		must(t, err)
	}
	must(t, f.w.Write()) // and the process dies
	st, err := page.Load(f.s)
	must(t, err)
	got, tail := readAll(t, f.s)
	if len(got) != 3 {
		t.Fatalf("read %d entries, want the 3 written", len(got))
	}
	rec := &syncLog{Memory: f.s}
	w, err := journal.Open(rec, page.NewAllocator(rec, st), st, tail, nil)
	must(t, err)
	if len(rec.synced)+len(rec.written) != 0 {
		t.Fatalf("Open wrote %v and synced %v: opening writes nothing", rec.written, rec.synced)
	}
	_, err = w.Append(journal.Entry{Kind: journal.KindCommit, Tx: 1})
	must(t, err)
	must(t, w.Flush())
	var unflushed []int64
	for _, r := range tail.Owned(st).Reachable[1:] { // the pages Write wrote
		if slices.Contains(rec.written, r.Addr) || !slices.Contains(rec.synced, r.Addr) {
			unflushed = append(unflushed, r.Addr)
		}
	}
	if len(unflushed) > 0 || len(tail.Owned(st).Reachable) < 3 {
		t.Fatalf("the resumed writer's flush wrote %v and synced %v; pages read and never flushed, rewritten or not synced: %v", rec.written, rec.synced, unflushed)
	}
}

// TestTrimAfterResumingACutEntry: a resumed writer overwrites the stream
// from the entry a crash cut, so the pages that held only that entry's
// bytes hold nothing of the journal any more; a trim past the cut frees
// them with the rest, and the head never lands on a page that starts no
// entry.
// withCutEntry returns a journal whose last entry, spanning four pages,
// a crash cut short: its last page never landed.
func withCutEntry(t *testing.T) *fixture {
	f := newFixture(t)
	_, err := f.w.Append(journal.Entry{Kind: journal.KindStart, Tx: 1})
	must(t, err)
	must(t, f.w.Flush())
	_, err = f.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 1, Data: bytes.Repeat([]byte{5}, 12000)}) // four pages
	must(t, err)
	must(t, f.w.Write())
	must(t, f.s.WriteAt(make([]byte, 1<<journal.PageExp), lastPage(t, f.s)))
	return f
}

func TestTrimAfterResumingACutEntry(t *testing.T) {
	f := withCutEntry(t)
	got, tail := readAll(t, f.s)
	if len(got) != 1 || !tail.Cut {
		t.Fatalf("read %d entries, cut %v: want the first entry, then a cut one", len(got), tail.Cut)
	}
	st, err := page.Load(f.s)
	must(t, err)
	a := page.NewAllocator(f.s, st)
	w, err := journal.Open(f.s, a, st, tail, nil)
	must(t, err)
	_, err = w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 2, Data: bytes.Repeat([]byte{6}, 5000)})
	must(t, err)
	next := journal.Entry{Kind: journal.KindCommit, Tx: 2}
	lsn, err := w.Append(next)
	must(t, err)
	must(t, w.Flush())
	must(t, w.Trim(lsn)) // as a checkpoint does, up to the commit
	must(t, a.Commit(w.Fill))
	w.Committed()
	got, tail = readAll(t, f.s)
	if len(got) != 1 || got[0].lsn != lsn || got[0].e.Kind != next.Kind {
		t.Fatalf("after trimming to the resumed commit read %d entries", len(got))
	}
	st, _ = page.Load(f.s)
	if errs := page.Check(f.s, st, tail.Owned(st)); len(errs) > 0 {
		t.Fatal(errs)
	}
}

// TestOpenWritesNothingOverOldSpares: pages of a journal trimmed long ago
// come back as spares still holding their old journal pages. No read can
// take those for new pages (their sequence numbers are behind), so opening
// a file flushed and committed cleanly writes nothing.
func TestOpenWritesNothingOverOldSpares(t *testing.T) {
	f := newFixture(t)
	for i := range 3*page.MaxJournalSpare + 4 { // ending past a refill
		_, err := f.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: uint64(i), Data: bytes.Repeat([]byte{byte(i)}, 100)})
		must(t, err)
		must(t, f.w.Flush())
		must(t, f.w.Trim(f.w.End()))
		f.commit(t)
	}
	st, err := page.Load(f.s)
	must(t, err)
	_, tail := readAll(t, f.s)
	old := 0
	for _, sp := range st.JournalSpare[:st.JournalSpareCount] {
		if h, _, err := page.Read(f.s, sp); err == nil && h.Type == page.TypeJournal && h.Seq < tail.NextSeq {
			old++
		}
	}
	if old == 0 {
		t.Fatal("no spare holds an old journal page: the test did not run")
	}
	rec := &syncLog{Memory: f.s}
	if _, err := journal.Open(rec, page.NewAllocator(rec, st), st, tail, nil); err != nil {
		t.Fatal(err)
	}
	if len(rec.written)+len(rec.synced) > 0 {
		t.Fatalf("opening a clean journal wrote %v and synced %v over %d spares holding old journal pages", rec.written, rec.synced, old)
	}
}

// TestResumedWriterNeverRevivesATornPage: a crash tears the page the
// journal was writing, its header sector written and a later sector
// still holding the page's earlier occupant; recovery stops there. The
// resumed writer writes its own page at that address under the same
// sequence number, and a second crash tears that write the other way: the
// first sector not written, the later ones (zeros past a small payload)
// written. The old page must not come back whole, with the entry the
// first recovery did not see.
func TestResumedWriterNeverRevivesATornPage(t *testing.T) {
	f := newFixture(t)
	_, err := f.w.Append(journal.Entry{Kind: journal.KindStart, Tx: 1})
	must(t, err)
	must(t, f.w.Flush())
	_, tail := readAll(t, f.s)
	at := tail.Next // where the next page goes
	// The page's earlier occupant left bytes in every sector.
	must(t, f.s.WriteAt(bytes.Repeat([]byte{0xaa}, 1<<journal.PageExp), at))

	_, err = f.w.Append(journal.Entry{Kind: journal.KindCommit, Tx: 1})
	must(t, err)
	must(t, f.w.Write())
	written := bytes.Clone(f.s.Bytes(at, 1<<journal.PageExp))
	// Crash 1: the header sector of the commit's page reached the disk,
	// the rest did not.
	torn := bytes.Repeat([]byte{0xaa}, 1<<journal.PageExp)
	copy(torn, written[:page.MinBytes])
	must(t, f.s.WriteAt(torn, at))

	w := resumeAt(t, f, at)
	// The bytes there now are durable: the crash left them, and the
	// writer's own changes since went behind a barrier.
	durable := bytes.Clone(f.s.Bytes(at, 1<<journal.PageExp))
	_, err = w.Append(journal.Entry{Kind: journal.KindRollback, Tx: 1})
	must(t, err)
	must(t, w.Write())
	if got := f.s.Bytes(at, page.HeaderSize); !bytes.Equal(got[16:24], written[16:24]) {
		t.Fatal("the resumed writer put its page elsewhere or under another sequence number: the test did not run")
	}
	// Crash 2: every sector of the new write but the first.
	img := bytes.Clone(f.s.Bytes(at, 1<<journal.PageExp))
	copy(img, durable[:page.MinBytes])
	must(t, f.s.WriteAt(img, at))

	got, _ := readAll(t, f.s)
	for _, l := range got {
		if l.e.Kind == journal.KindCommit {
			t.Fatalf("the commit the first recovery never saw came back at LSN %d", l.lsn)
		}
	}
}

// TestTrimAfterReadingPastAResumedCut: as TestTrimAfterResumingACutEntry,
// but the read that follows goes on past the resumed page, so the cut is
// in the middle of the journal, not at its end: the pages holding the
// abandoned entry must still hold nothing a trim past the cut keeps, or a
// later trim makes one of them, which starts no entry, the head.
func TestTrimAfterReadingPastAResumedCut(t *testing.T) {
	f := withCutEntry(t)
	_, tail := readAll(t, f.s)
	st, err := page.Load(f.s)
	must(t, err)
	w, err := journal.Open(f.s, page.NewAllocator(f.s, st), st, tail, nil)
	must(t, err)
	_, err = w.Append(journal.Entry{Kind: journal.KindRollback, Tx: 1})
	must(t, err)
	must(t, w.Flush())
	// A crash before any root state is stored: the next read starts at
	// the same head and reads past the resumed page.
	_, tail = readAll(t, f.s)
	st, err = page.Load(f.s)
	must(t, err)
	a := page.NewAllocator(f.s, st)
	w, err = journal.Open(f.s, a, st, tail, nil)
	must(t, err)
	for i := range 60 {
		_, err := w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: uint64(i + 2), Data: bytes.Repeat([]byte{byte(i)}, 200)})
		must(t, err)
		must(t, w.Flush())
		must(t, w.Trim(w.End()))
		must(t, a.Commit(w.Fill))
		w.Committed()
		st, err := page.Load(f.s)
		must(t, err)
		if _, err := journal.Read(f.s, st, func(uint64, journal.Entry) error { return nil }); err != nil {
			t.Fatalf("after %d trims past the resumed cut: %v", i+1, err)
		}
	}
}

// TestAStaleSpareDoesNotContinueTheJournal: a crash leaves the page the
// journal was writing torn and the page after it, a spare, whole; the
// resumed writer scrubs the spare, but the device loses that write. The
// new writer's page at the torn address fills with a stream as long as
// the old one's, so the old spare starts at the very LSN the journal
// expects next, under the sequence number it expects; a crash before the
// new writer's own next page lands must end the journal there, not
// continue it with the earlier writer's bytes.
func TestAStaleSpareDoesNotContinueTheJournal(t *testing.T) {
	f := newFixture(t)
	_, err := f.w.Append(journal.Entry{Kind: journal.KindStart, Tx: 1})
	must(t, err)
	must(t, f.w.Flush())
	_, tail := readAll(t, f.s)
	at := tail.Next
	big := func(b byte) journal.Entry {
		return journal.Entry{Kind: journal.KindUpdate, Tx: 1, Data: bytes.Repeat([]byte{b}, 6000)}
	}
	_, err = f.w.Append(big(0xaa))
	must(t, err)
	must(t, f.w.Write())
	_, first, err := page.Read(f.s, at)
	must(t, err)
	spare := int64(binary.LittleEndian.Uint64(first)) // the earlier writer's second page
	if _, tail = readAll(t, f.s); tail.Next == spare {
		t.Fatal("the earlier writer's entry did not span two pages: the test did not run")
	}
	old := bytes.Clone(f.s.Bytes(spare, 1<<journal.PageExp))
	// The crash: the first page torn to zeros past its header sector.
	must(t, f.s.WriteAt(make([]byte, 1<<journal.PageExp-page.MinBytes), at+page.MinBytes))

	w := resumeAt(t, f, at)
	if bytes.Equal(f.s.Bytes(spare, 1<<journal.PageExp), old) {
		t.Fatal("Open left the spare holding a page of a sequence number it writes")
	}
	must(t, f.s.WriteAt(old, spare)) // the scrub, lost
	_, err = w.Append(big(0xbb))
	must(t, err)
	must(t, w.Write())
	if !bytes.Equal(f.s.Bytes(spare, page.HeaderSize)[16:24], old[16:24]) {
		t.Fatal("the new writer put its second page elsewhere or under another sequence number: the test did not run")
	}
	must(t, f.s.WriteAt(old, spare)) // the new second page, lost to the crash

	got, tail := readAll(t, f.s)
	for _, l := range got[1:] {
		t.Fatalf("an entry of %d bytes at LSN %d from two writers' pages", len(l.e.Data), l.lsn)
	}
	if tail.Next != spare || !tail.Cut {
		t.Fatalf("the read stopped at %d (cut %v), want at the stale spare %d with the new entry cut", tail.Next, tail.Cut, spare)
	}
}

// resumeAt reads the journal after a crash, which must leave one entry
// and stop at at, and resumes a writer there.
func resumeAt(t *testing.T, f *fixture, at int64) *journal.Writer {
	t.Helper()
	got, tail := readAll(t, f.s)
	if len(got) != 1 || tail.Next != at {
		t.Fatalf("after the crash read %d entries, stopping at %d; want 1, at %d", len(got), tail.Next, at)
	}
	st, err := page.Load(f.s)
	must(t, err)
	w, err := journal.Open(f.s, page.NewAllocator(f.s, st), st, tail, nil)
	must(t, err)
	return w
}

// TestRefillSyncsWrittenPages: a refill in the middle of a Write stores
// a root state that no longer lists the spares the Write took, so the
// pages written into them must be durable before it: after a crash the
// chain is the only way to them. The owner's commit here syncs nothing
// (CommitOwn syncs only the allocator's chunks); the journal must.
func TestRefillSyncsWrittenPages(t *testing.T) {
	f := newFixture(t)
	rec := &syncLog{Memory: f.s}
	st, err := page.Load(f.s)
	must(t, err)
	_, tail := readAll(t, f.s)
	a := page.NewAllocator(rec, st)
	var w *journal.Writer
	refills := 0
	commit := func() error {
		refills++
		for _, off := range rec.written {
			p := off &^ (mmapfile.PageBytes - 1)
			if p >= mmapfile.PageBytes && !slices.Contains(rec.synced, p) {
				t.Fatalf("refill %d: page %d written and not durable before the root state", refills, p)
			}
		}
		return a.CommitOwn(w.Fill)
	}
	w, err = journal.Open(rec, a, st, tail, commit)
	must(t, err)
	rec.written, rec.synced = nil, nil
	for range 2 * page.MaxJournalSpare {
		_, err := w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 1, Data: bytes.Repeat([]byte{7}, 3800)})
		must(t, err)
	}
	must(t, w.Write())
	if refills == 0 {
		t.Fatalf("%d pages written without a refill", 2*page.MaxJournalSpare)
	}
}

// TestEarlierWritersPageIsNotTheHead: a writer leaves three pages, the
// middle one lost in a crash and the last one whole; the writer resumed
// after it scrubs that last page, but the device drops the scrub. The
// resumed writer writes the middle page again, trims the journal to
// nothing and so makes the head the very page the earlier writer left
// whole, of the sequence number it will write there next. That page must
// not read as the head: the entries on it were discarded by the read
// that resumed the journal.
func TestEarlierWritersPageIsNotTheHead(t *testing.T) {
	f := newFixture(t)
	_, tail := readAll(t, f.s)
	st, err := page.Load(f.s)
	must(t, err)
	a := page.NewAllocator(f.s, st)
	w, err := journal.Open(f.s, a, st, tail, nil)
	must(t, err)
	for i := range 9 { // three pages, each starting an entry
		_, err := w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 7, A: uint64(i), Data: bytes.Repeat([]byte{byte(i + 1)}, 1200)})
		must(t, err)
	}
	must(t, w.Flush())
	before, tail := readAll(t, f.s)
	st, err = page.Load(f.s)
	must(t, err)
	owned := tail.Owned(st).Reachable
	if len(owned) < 3 {
		t.Fatalf("the journal holds %d pages", len(owned))
	}
	p2, p3 := owned[len(owned)-2].Addr, owned[len(owned)-1].Addr
	// The crash: the second-to-last page lost, the last one whole.
	must(t, f.s.WriteAt(make([]byte, 1<<journal.PageExp), p2))
	last := bytes.Clone(f.s.Bytes(p3, 1<<journal.PageExp))
	got, tail := readAll(t, f.s)
	if len(got) >= len(before) {
		t.Fatalf("the crash lost no entry: %d entries", len(got))
	}
	st, err = page.Load(f.s)
	must(t, err)
	a = page.NewAllocator(f.s, st)
	w, err = journal.Open(f.s, a, st, tail, nil)
	must(t, err)
	if bytes.Equal(f.s.Bytes(p3, 1<<journal.PageExp), last) {
		t.Fatal("the resumed writer did not scrub the earlier writer's last page")
	}
	must(t, f.s.WriteAt(last, p3)) // the device dropped the scrub
	_, err = w.Append(journal.Entry{Kind: journal.KindStart, Tx: 8})
	must(t, err)
	must(t, w.Flush())
	must(t, w.Trim(w.End()))
	must(t, a.Commit(w.Fill))
	w.Committed()
	st, err = page.Load(f.s)
	must(t, err)
	if st.JournalHead != p3 {
		t.Fatalf("the head is %d, not the earlier writer's page at %d: the test shows nothing", st.JournalHead, p3)
	}
	if got, tail := readAll(t, f.s); len(got) != 0 {
		t.Fatalf("the journal trimmed to nothing reads %d entries, the earlier writer's (stopped: %v)", len(got), tail.Stopped)
	}
}

// orderLog records the order of writes and barriers.
type orderLog struct {
	*mmapfile.Memory
	ops []string
}

func (s *orderLog) WriteAt(p []byte, off int64) error {
	s.ops = append(s.ops, fmt.Sprintf("write %d", off))
	return s.Memory.WriteAt(p, off)
}

func (s *orderLog) SyncRange(off, n int64) error {
	s.ops = append(s.ops, fmt.Sprintf("sync %d+%d", off, n))
	return s.Memory.SyncRange(off, n)
}

// TestResumedWriterSettlesFirst: the root state a writer resumed from
// may be one the process that stored it died before making durable. Its
// pages carry that state's generation, so before the first of them the
// state is made durable: were a crash to bring back the state before, a
// later writer would store the same generation again, and pages of two
// writers would carry it.
func TestResumedWriterSettlesFirst(t *testing.T) {
	f := newFixture(t)
	_, err := f.w.Append(journal.Entry{Kind: journal.KindStart, Tx: 1})
	must(t, err)
	must(t, f.w.Flush())
	f.commit(t)
	rec := &orderLog{Memory: f.s}
	st, err := page.Load(rec)
	must(t, err)
	_, tail := readAll(t, rec)
	w, err := journal.Open(rec, page.NewAllocator(rec, st), st, tail, nil)
	must(t, err)
	rec.ops = nil
	_, err = w.Append(journal.Entry{Kind: journal.KindStart, Tx: 2})
	must(t, err)
	must(t, w.Write())
	if len(rec.ops) < 2 || rec.ops[0] != fmt.Sprintf("sync 0+%d", page.FirstPage) || !strings.HasPrefix(rec.ops[1], "write ") {
		t.Fatalf("a resumed writer's first Write made %v: want the root page synced, then its page", rec.ops)
	}
}

// TestOpenKeepsTheTail: a Tail is a value the caller may open again (a
// test of a crash does, once per copy of the file); the writer Open
// makes from it does not share the pages it lists, so a trim by that
// writer leaves the Tail as it was.
func TestOpenKeepsTheTail(t *testing.T) {
	f := newFixture(t)
	for i := range 9 {
		_, err := f.w.Append(journal.Entry{Kind: journal.KindUpdate, Tx: 7, A: uint64(i), Data: bytes.Repeat([]byte{byte(i + 1)}, 1200)})
		must(t, err)
	}
	must(t, f.w.Flush())
	_, tail := readAll(t, f.s)
	st, err := page.Load(f.s)
	must(t, err)
	before := tail.Owned(st)
	w, err := journal.Open(f.s, page.NewAllocator(f.s, st), st, tail, nil)
	must(t, err)
	must(t, w.Trim(w.End()-1))
	if after := tail.Owned(st); !slices.Equal(after.Reachable, before.Reachable) {
		t.Fatalf("a trim by a writer opened from the tail changed the tail's pages from %v to %v", before.Reachable, after.Reachable)
	}
}
