package page_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"pgregory.net/rapid"
)

// allocModel drives an Allocator with a model of who owns what.
type allocModel struct {
	s       *mmapfile.Memory
	a       *page.Allocator
	owned   []page.Ref     // allocated and written, in order
	freed   map[int64]bool // freed since the last Commit: not to be handed out
	later   map[uint64][]page.Ref
	content map[int64]byte
	buf     []byte
}

func newAllocModel(t *rapid.T) *allocModel {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	st, err := page.Format(s)
	must(t, err)
	return &allocModel{s: s, a: page.NewAllocator(s, st), freed: map[int64]bool{}, later: map[uint64][]page.Ref{}, content: map[int64]byte{}}
}

func (m *allocModel) check(t *rapid.T) {
	var pending []page.Ref
	pending = append(pending, m.a.Pending()...)
	if errs := page.Check(m.s, m.a.State(), page.Owned{Reachable: m.owned, Pending: pending}); len(errs) > 0 {
		t.Fatalf("Check: %v", errs)
	}
}

func (m *allocModel) allocate(t *rapid.T) {
	exp := uint8(rapid.IntRange(page.MinExp, page.MinExp+4).Draw(t, "exp"))
	r, err := m.a.Allocate(exp)
	must(t, err)
	// A page never shares an OS page with another unless both are
	// smaller than one: a journal page's barrier covers it alone.
	if align := min(r.Bytes(), mmapfile.PageBytes); r.Addr%align != 0 {
		t.Fatalf("a page of %d bytes at %d, not on a %d-byte boundary", r.Bytes(), r.Addr, align)
	}
	if m.freed[r.Addr] {
		t.Fatalf("page %d handed out before its freeing was committed", r.Addr)
	}
	if slices.ContainsFunc(m.owned, func(o page.Ref) bool { return o.Addr == r.Addr }) {
		t.Fatalf("page %d handed out twice", r.Addr)
	}
	b := byte(len(m.owned) + 1)
	if cap(m.buf) < int(r.Bytes()) {
		m.buf = make([]byte, r.Bytes())
	}
	must(t, page.Write(m.s, m.buf[:r.Bytes()], page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr}, []byte{b}))
	m.owned = append(m.owned, r)
	m.content[r.Addr] = b
}

func (m *allocModel) free(t *rapid.T, later bool) {
	if len(m.owned) == 0 {
		t.Skip("nothing owned")
	}
	i := rapid.IntRange(0, len(m.owned)-1).Draw(t, "victim")
	r := m.owned[i]
	m.owned = slices.Delete(m.owned, i, i+1)
	m.freed[r.Addr] = true
	if later {
		owner := uint64(rapid.IntRange(1, 3).Draw(t, "owner"))
		m.a.FreeLater(owner, r)
		m.later[owner] = append(m.later[owner], r)
		return
	}
	must(t, m.a.Free(r))
}

func (m *allocModel) commit(t *rapid.T) {
	must(t, m.a.Commit(nil))
	clear(m.freed)
	// Pages held by owners stay unusable until released.
	for _, rs := range m.later {
		for _, r := range rs {
			m.freed[r.Addr] = true
		}
	}
	// What was committed reloads as the same state, and the owned pages
	// kept their content.
	st, err := page.Load(m.s)
	must(t, err)
	if st != m.a.State() {
		t.Fatalf("reloaded %+v, committed %+v", st, m.a.State())
	}
	for _, r := range m.owned {
		_, p, err := page.Read(m.s, r.Addr)
		must(t, err)
		if len(p) != 1 || p[0] != m.content[r.Addr] {
			t.Fatalf("page %d holds %x, wrote %x", r.Addr, p, m.content[r.Addr])
		}
	}
}

func TestAllocatorModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := newAllocModel(t)
		t.Repeat(map[string]func(*rapid.T){
			"allocate":  m.allocate,
			"free":      func(t *rapid.T) { m.free(t, false) },
			"freeLater": func(t *rapid.T) { m.free(t, true) },
			"release": func(t *rapid.T) {
				owner := uint64(rapid.IntRange(1, 3).Draw(t, "owner"))
				must(t, m.a.Release(owner))
				delete(m.later, owner)
			},
			"commit": m.commit,
			"":       m.check,
		})
	})
}

// allocated formats a file and allocates n written 512-byte pages.
func allocated(t *testing.T, n int) (*mmapfile.Memory, *page.Allocator, []page.Ref) {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	st, err := page.Format(s)
	must(t, err)
	a := page.NewAllocator(s, st)
	var rs []page.Ref
	buf := make([]byte, page.MinBytes)
	for range n {
		r, err := a.Allocate(page.MinExp)
		must(t, err)
		must(t, page.Write(s, buf, page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr}, nil))
		rs = append(rs, r)
	}
	return s, a, rs
}

func TestAllocatorReuseAndTrim(t *testing.T) {
	s, a, rs := allocated(t, 5)
	if rs[0].Addr != page.FirstPage || rs[4].Addr != page.FirstPage+4*page.MinBytes {
		t.Fatalf("a new file allocates from the first page on: %v", rs)
	}
	must(t, a.Commit(nil))
	must(t, a.Free(rs[1]))
	must(t, a.Free(rs[2]))
	must(t, a.Free(rs[4]))
	if err := a.Free(rs[4]); err == nil {
		t.Error("a double free was accepted")
	}
	if err := a.Free(page.Ref{Addr: 1 << 30, Exp: page.MinExp}); err == nil {
		t.Error("freeing a page past the end was accepted")
	}
	// Before the commit no freed page comes back.
	r, err := a.Allocate(page.MinExp)
	must(t, err)
	if r.Addr != rs[4].Addr+page.MinBytes {
		t.Fatalf("before the commit: allocated %d", r.Addr)
	}
	must(t, a.Free(r))
	must(t, a.Commit(nil))
	// The four freed pages wait in limbo; the next commit trims the two
	// that end the file.
	if got := a.State(); got.End != r.Addr+page.MinBytes || got.LimboCount != 4 {
		t.Fatalf("after the commit: end %d, %d in limbo", got.End, got.LimboCount)
	}
	if errs := page.Check(s, a.State(), page.Owned{Reachable: []page.Ref{rs[0], rs[3]}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	must(t, a.Commit(nil))
	if got := a.State(); got.End != rs[4].Addr || got.LimboCount != 2 {
		t.Fatalf("after the next commit: end %d, %d in limbo; want %d, 2", got.End, got.LimboCount, rs[4].Addr)
	}
	if errs := page.Check(s, a.State(), page.Owned{Reachable: []page.Ref{rs[0], rs[3]}}); len(errs) > 0 {
		t.Fatal(errs)
	}
	// The other two come back, then allocation extends the file.
	for _, want := range []int64{rs[1].Addr, rs[2].Addr, rs[4].Addr} {
		if r, err := a.Allocate(page.MinExp); err != nil || r.Addr != want {
			t.Fatalf("allocated %d, %v; want %d", r.Addr, err, want)
		}
	}
}

// TestAllocatorChunks frees more pages than limbo holds, so that they are
// listed in chunks, and allocates them back.
func TestAllocatorChunks(t *testing.T) {
	s, a, rs := allocated(t, 3*page.MaxLimbo)
	buf := make([]byte, page.MinBytes)
	must(t, a.Commit(nil))
	// Free every other page, so nothing can be trimmed.
	var kept, freed []page.Ref
	for i, r := range rs {
		if i%2 == 0 {
			freed = append(freed, r)
			must(t, a.Free(r))
		} else {
			kept = append(kept, r)
		}
	}
	must(t, a.Commit(nil))
	must(t, a.Commit(nil)) // limbo more than half full: its pages go to chunks
	st := a.State()
	if st.Free[0].Count == 0 {
		t.Fatalf("nothing listed: %+v", st)
	}
	if errs := page.Check(s, st, page.Owned{Reachable: kept}); len(errs) > 0 {
		t.Fatal(errs)
	}
	// Allocating as many pages hands the freed ones out again, but for
	// the chunk pages that held them, which wait in limbo for a commit.
	end := st.End
	reused := 0
	for range len(freed) {
		r, err := a.Allocate(page.MinExp)
		must(t, err)
		must(t, page.Write(s, buf, page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr}, nil))
		kept = append(kept, r)
		if r.Addr < end {
			reused++
		}
	}
	if chunks := len(freed) - reused; chunks < 1 || chunks > 2 {
		t.Errorf("%d of %d freed pages handed out again", reused, len(freed))
	}
	must(t, a.Commit(nil))
	if errs := page.Check(s, a.State(), page.Owned{Reachable: kept}); len(errs) > 0 {
		t.Fatal(errs)
	}
}

func TestCheckFindsViolations(t *testing.T) {
	s, a, rs := allocated(t, 4)
	must(t, a.Free(rs[0]))
	must(t, a.Free(rs[1]))
	must(t, a.Commit(nil))
	st := a.State()
	owned := []page.Ref{rs[2], rs[3]}
	if errs := page.Check(s, st, page.Owned{Reachable: owned}); len(errs) > 0 {
		t.Fatal(errs)
	}
	for name, c := range map[string]struct {
		st        page.State
		reachable []page.Ref
	}{
		"leak":              {st, owned[:1]},
		"free and used":     {st, append(slices.Clone(owned), rs[0])},
		"reachable twice":   {st, append(slices.Clone(owned), rs[2])},
		"beyond the end":    {st, append(slices.Clone(owned), page.Ref{Addr: st.End, Exp: page.MinExp})},
		"wrong count":       {func() page.State { b := st; b.Free[0].Count++; return b }(), owned},
		"head at used page": {func() page.State { b := st; b.Free[0].Top = rs[2].Addr; return b }(), owned},
		"wrong size class":  {st, []page.Ref{rs[2], {Addr: rs[3].Addr, Exp: page.MinExp + 1}}},
	} {
		errs := page.Check(s, c.st, page.Owned{Reachable: c.reachable})
		if len(errs) == 0 {
			t.Errorf("%s: no violation found", name)
			continue
		}
		for _, err := range errs {
			if !isCorrupt(err) {
				t.Errorf("%s: %v is not a *CorruptError", name, err)
			}
		}
		t.Log(name, fmt.Sprint(errs))
	}
	// A page of an OS page's size must start on an OS page boundary.
	odd := page.Ref{Addr: page.FirstPage + page.MinBytes, Exp: 12}
	errs := page.Check(s, st, page.Owned{Reachable: owned, Reserved: []page.Ref{odd}})
	if !slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), "not aligned") }) {
		t.Errorf("a reserved 4 KiB page at %d: no alignment violation among %v", odd.Addr, errs)
	}
}

// TestCommitWritesNoPageItFrees frees more pages of one class in one
// commit than limbo and one chunk hold: every chunk must go into a page
// already free, never into one this commit frees, which the durable root
// state still reads until the commit's store.
func TestCommitWritesNoPageItFrees(t *testing.T) {
	s, a, rs := allocated(t, 200)
	must(t, a.Commit(nil))
	freed := rs[:120]
	for _, r := range freed {
		must(t, a.Free(r))
	}
	must(t, a.Commit(nil))
	for _, r := range freed {
		if h, _, err := page.Read(s, r.Addr); err != nil || h.Type != page.TypeData {
			t.Fatalf("page %d, freed by the commit, was written by it: %v %v", r.Addr, h.Type, err)
		}
	}
	if errs := page.Check(s, a.State(), page.Owned{Reachable: rs[120:]}); len(errs) > 0 {
		t.Fatal(errs)
	}
	// Freed again while in limbo: refused.
	var ce *page.CorruptError
	if err := a.Free(freed[0]); err == nil || errors.As(err, &ce) {
		t.Errorf("a page freed twice across commits: %v, want an error that does not blame the file", err)
	}
	// In limbo in a state loaded from the file, and freed again: the
	// file lists free a page something uses.
	b := page.NewAllocator(s, a.State())
	if err := b.Free(freed[0]); !errors.As(err, &ce) || ce.Page != freed[0].Addr {
		t.Errorf("freeing a page the loaded state has in limbo: %v, want a *CorruptError at %d", err, freed[0].Addr)
	}
}

// powerCut is a Storage that keeps, besides what reads see, what a power
// loss would leave: the bytes as the last barriers over them made them.
type powerCut struct {
	*mmapfile.Memory
	durable []byte
	dead    bool // the process died: its barriers never ran
}

func (p *powerCut) sync(off, n int64) {
	if p.dead {
		return
	}
	if grow := p.Memory.Size() - int64(len(p.durable)); grow > 0 {
		p.durable = append(p.durable, make([]byte, grow)...)
	}
	lo, hi := mmapfile.PageCover(off, n)
	hi = min(hi, p.Memory.Size())
	copy(p.durable[lo:hi], p.Memory.Bytes(lo, int(hi-lo)))
}

func (p *powerCut) SyncRange(off, n int64) error { p.sync(off, n); return nil }
func (p *powerCut) Sync() error                  { p.sync(0, p.Memory.Size()); return nil }

// TestLoadedStateSettledBeforeReuse: a process dies inside a Commit,
// after its Store wrote the root state and before the barrier. The next
// process loads that state, which no barrier covers, while a power loss
// would bring back the one before it, which still reads the page the
// lost Commit freed. The next process may reuse that page only once the
// state it loaded is durable.
func TestLoadedStateSettledBeforeReuse(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	s := &powerCut{Memory: m}
	st, err := page.Format(s)
	must(t, err)
	a := page.NewAllocator(s, st)
	buf := make([]byte, page.MinBytes)
	var rs []page.Ref
	for range 2 {
		r, err := a.Allocate(page.MinExp)
		must(t, err)
		must(t, page.Write(s, buf, page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr}, []byte("old")))
		rs = append(rs, r)
	}
	must(t, a.Commit(nil)) // generation 2 reads both pages
	freed := rs[0]
	must(t, a.Free(freed))
	s.dead = true
	must(t, a.Commit(nil)) // generation 3 frees one, and the process dies
	s.dead = false

	st, err = page.Load(s)
	must(t, err)
	if st.Gen != 3 {
		t.Fatalf("loaded generation %d, want the 3 the dead process wrote", st.Gen)
	}
	a = page.NewAllocator(s, st)
	r, err := a.Allocate(page.MinExp)
	must(t, err)
	if r != freed {
		t.Fatalf("allocated %v, not the page generation 3 freed (%v): the test did not run", r, freed)
	}
	must(t, page.Write(s, buf, page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr}, []byte("new")))
	must(t, s.SyncRange(r.Addr, r.Bytes()))

	// The power goes.
	img, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	must(t, img.Grow(int64(len(s.durable))))
	must(t, img.WriteAt(s.durable, 0))
	st, err = page.Load(img)
	must(t, err)
	if st.Gen < 3 {
		if _, p, err := page.Read(img, freed.Addr); err != nil || string(p) != "old" {
			t.Fatalf("after the power loss generation %d is back, and its page %d reads %q, %v", st.Gen, freed.Addr, p, err)
		}
	}
}

// growLog counts the Grow calls that extended the storage.
type growLog struct {
	*mmapfile.Memory
	grows int
}

func (g *growLog) Grow(size int64) error {
	if size > g.Size() {
		g.grows++
	}
	return g.Memory.Grow(size)
}

// TestAllocatorGrowsGeometrically: a file grows by at least GrowBytes
// and, once large, by an eighth of its size up to MaxGrowBytes, so that
// filling 32 MiB takes a few dozen growths, not 512.
func TestAllocatorGrowsGeometrically(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	st, err := page.Format(m)
	must(t, err)
	g := &growLog{Memory: m}
	a := page.NewAllocator(g, st)
	last := g.Size()
	for a.State().End < 32<<20 {
		_, err := a.Allocate(page.MaxExp)
		must(t, err)
		if size := g.Size(); size != last {
			step := size - last
			want := max(int64(page.GrowBytes), min(last/8, page.MaxGrowBytes))
			if step < want-page.GrowBytes || step > want+1<<page.MaxExp {
				t.Fatalf("grew from %d to %d bytes: a step of %d, want about %d", last, size, step, want)
			}
			last = size
		}
	}
	if g.grows > 60 {
		t.Fatalf("%d growths to fill 32 MiB", g.grows)
	}
}

// syncCount counts full and ranged barriers.
type syncCount struct {
	*mmapfile.Memory
	syncs, ranges int
}

func (s *syncCount) Sync() error { s.syncs++; return s.Memory.Sync() }

func (s *syncCount) SyncRange(off, n int64) error { s.ranges++; return s.Memory.SyncRange(off, n) }

// TestCommitOwnSyncsTheFileOnlyWhenItGrew: CommitOwn, for a caller that
// wrote nothing the root state reads, syncs the whole file only when its
// size may not be durable (the first commit, a growth since); otherwise
// ranged barriers over its own chunk pages and the root slot suffice.
// Commit always syncs the whole file.
func TestCommitOwnSyncsTheFileOnlyWhenItGrew(t *testing.T) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	st, err := page.Format(m)
	must(t, err)
	s := &syncCount{Memory: m}
	a := page.NewAllocator(s, st)
	commit := func(own bool) (syncs int) {
		t.Helper()
		before := s.syncs
		if own {
			must(t, a.CommitOwn(nil))
		} else {
			must(t, a.Commit(nil))
		}
		return s.syncs - before
	}
	var refs []page.Ref
	for range 4 {
		r, err := a.Allocate(page.MinExp)
		must(t, err)
		refs = append(refs, r)
	}
	if n := commit(true); n != 1 {
		t.Fatalf("the first CommitOwn made %d Syncs, want 1: the size was never synced", n)
	}
	for _, r := range refs[:2] {
		must(t, a.Free(r))
	}
	if n := commit(true); n != 0 {
		t.Fatalf("a CommitOwn with the size durable made %d Syncs", n)
	}
	for a.State().End < s.Size() { // use up the file, then grow it
		_, err := a.Allocate(page.MinExp)
		must(t, err)
	}
	_, err = a.Allocate(page.MinExp)
	must(t, err)
	if n := commit(true); n != 1 {
		t.Fatalf("a CommitOwn after the file grew made %d Syncs, want 1", n)
	}
	if n := commit(false); n != 1 {
		t.Fatalf("Commit made %d Syncs, want 1", n)
	}
}
