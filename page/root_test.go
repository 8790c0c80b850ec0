package page_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

func formatted(t testing.TB) *mmapfile.Memory {
	t.Helper()
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	if _, err := page.Format(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// next returns st advanced by one generation with something changed.
func next(st page.State, s mmapfile.Storage, t testing.TB) page.State {
	st.Gen++
	st.End += page.MinBytes
	must(t, s.Grow(st.End))
	st.Free[0] = page.FreeList{Top: page.FirstPage, Count: st.Gen}
	st.JournalSeq = st.Gen * 10
	return st
}

func TestFormatLoadStore(t *testing.T) {
	s := formatted(t)
	st, err := page.Load(s)
	must(t, err)
	if st.Gen != 1 || st.End != page.FirstPage {
		t.Fatalf("a new file's state: %+v", st)
	}
	for range 5 {
		st = next(st, s, t)
		must(t, page.Store(s, st))
		got, err := page.Load(s)
		must(t, err)
		if got != st {
			t.Fatalf("stored %+v, loaded %+v", st, got)
		}
	}
	if _, err := page.Format(s); err == nil {
		t.Error("formatted a storage that is not empty")
	}
}

// slotOf returns the address of the slot holding generation gen, found by
// looking: the test does not trust the package's layout arithmetic.
func slotOf(t *testing.T, s mmapfile.Storage, gen uint64) int64 {
	for addr := int64(page.MinBytes); addr < page.FirstPage; addr += page.MinBytes {
		if h, _, err := page.Read(s, addr); err == nil && h.Type == page.TypeRootSlot && h.Seq == gen {
			return addr
		}
	}
	t.Fatalf("no slot holds generation %d", gen)
	return 0
}

// twoStored returns a new file with generations 2 and 3 stored.
func twoStored(t *testing.T) (*mmapfile.Memory, page.State, page.State) {
	s := formatted(t)
	st1, err := page.Load(s)
	must(t, err)
	st2 := next(st1, s, t)
	must(t, page.Store(s, st2))
	st3 := next(st2, s, t)
	must(t, page.Store(s, st3))
	return s, st2, st3
}

func TestNewestValidSlotWins(t *testing.T) {
	s, st2, _ := twoStored(t)
	if slotOf(t, s, 3) == slotOf(t, s, 2) {
		t.Fatal("two generations in one slot")
	}
	// Generation 3 torn: generation 2 comes back.
	must(t, s.WriteAt([]byte{0xff}, slotOf(t, s, 3)+600))
	got, err := page.Load(s)
	if err != nil || got != st2 {
		t.Fatalf("with the newest slot torn: %+v, %v; want generation 2", got, err)
	}
	// Both damaged: a *CorruptError, not a guess.
	must(t, s.WriteAt([]byte{0xff}, slotOf(t, s, 2)+40))
	if _, err := page.Load(s); !isCorrupt(err) {
		t.Fatalf("both slots damaged: %v", err)
	}
}

func TestLoadRejects(t *testing.T) {
	fresh := func() []byte {
		s := formatted(t)
		return bytes.Clone(s.Bytes(0, int(s.Size())))
	}
	load := func(b []byte) error {
		s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
		must(t, err)
		must(t, s.Grow(int64(len(b))))
		must(t, s.WriteAt(b, 0))
		_, err = page.Load(s)
		return err
	}
	newer := fresh()
	binary.LittleEndian.PutUint32(newer[page.HeaderSize+16:], page.FormatVersion+1)
	// Re-seal the root page so only the version is wrong.
	h, p, _ := page.Decode(fresh()[:1024], 0)
	p = bytes.Clone(p)
	binary.LittleEndian.PutUint32(p[16:], page.FormatVersion+1)
	must(t, page.Encode(newer[:1024], h, p))

	foreign := bytes.Repeat([]byte("GIF89a"), 1000)
	rootTorn := fresh()
	rootTorn[700] = 1
	endPastFile := fresh()[:page.FirstPage]
	for name, c := range map[string]struct {
		data []byte
		want func(error) bool
	}{
		"empty":          {nil, isNot},
		"zeros":          {make([]byte, 8192), isNot},
		"foreign":        {foreign, isNot},
		"short foreign":  {[]byte("hello"), isNot},
		"truncated":      {fresh()[:100], isCorrupt},
		"newer format":   {newer, func(err error) bool { return errors.Is(err, page.ErrFormatVersion) }},
		"root page torn": {rootTorn, isCorrupt},
	} {
		if err := load(c.data); !c.want(err) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := load(endPastFile); err != nil {
		t.Errorf("a new file: %v", err)
	}
}

func isNot(err error) bool { return errors.Is(err, page.ErrNotPersyFile) }

func TestStoreRefusesInvalidState(t *testing.T) {
	s := formatted(t)
	st, _ := page.Load(s)
	for name, bad := range map[string]func(*page.State){
		"generation 0":       func(st *page.State) { st.Gen = 0 },
		"end before pages":   func(st *page.State) { st.Gen, st.End = 2, 100 },
		"head past end":      func(st *page.State) { st.Gen, st.Free[0] = 2, page.FreeList{Top: st.End, Count: 1} },
		"head without count": func(st *page.State) { st.Gen, st.Free[0].Top = 2, page.FirstPage },
		"journal unaligned":  func(st *page.State) { st.Gen, st.End, st.JournalHead = 2, st.End+page.MinBytes, page.FirstPage+1 },
	} {
		b := st
		bad(&b)
		if err := page.Store(s, b); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
	if got, err := page.Load(s); err != nil || got != st {
		t.Fatalf("a refused store changed the state: %+v, %v", got, err)
	}
}

// FuzzLoad opens a formatted file with bytes overwritten: the result is a
// state, ErrNotPersyFile, ErrFormatVersion or a *CorruptError, never a
// panic.
func FuzzLoad(f *testing.F) {
	f.Add(int64(0), []byte{0})
	f.Add(int64(page.HeaderSize), []byte("persy"))
	f.Add(int64(1024+40), []byte{1, 2, 3})
	f.Add(int64(2048+8), []byte{0, 4})
	f.Add(int64(-1), []byte{})
	f.Fuzz(func(t *testing.T, off int64, patch []byte) {
		s := formatted(t)
		st, _ := page.Load(s)
		must(t, page.Store(s, next(st, s, t)))
		if off < 0 {
			// Truncate instead: a file cut anywhere.
			cut := (-off) % s.Size()
			s2, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
			must(t, err)
			must(t, s2.Grow(cut))
			must(t, s2.WriteAt(s.Bytes(0, int(cut)), 0))
			s = s2
		} else if len(patch) > 0 {
			off %= s.Size()
			patch = patch[:min(int64(len(patch)), s.Size()-off)]
			must(t, s.WriteAt(patch, off))
		}
		_, err := page.Load(s)
		if err != nil && !isCorrupt(err) && !isNot(err) && !errors.Is(err, page.ErrFormatVersion) {
			t.Fatalf("unexpected error: %v", err)
		}
	})
}

// TestScrubClearsATornCopy plays a crash inside the Store of a copy C,
// which left C's first sector in its slot, then a recovery storing another
// copy R of the same generation into that slot, torn so that only R's
// second sector lands. Where R's second sector equals C's, the slot then
// holds C whole: a root state never made durable, naming pages the
// recovery may have reused. Scrub must clear the slot first.
func TestScrubClearsATornCopy(t *testing.T) {
	const sector = 512
	s, _, st3 := twoStored(t)
	if wrote, err := page.Scrub(s, st3); err != nil || wrote {
		t.Fatalf("Scrub with an older valid copy in the slot: wrote %v, %v", wrote, err)
	}

	c := next(st3, s, t)
	r := c
	r.Free[1] = page.FreeList{Top: page.FirstPage + page.MinBytes, Count: 1}
	must(t, page.Store(s, r))
	addr := slotOf(t, s, 4)
	rBytes := slices.Clone(s.Bytes(addr, 2*sector))
	must(t, page.Store(s, c))
	cBytes := slices.Clone(s.Bytes(addr, 2*sector))
	// The copies' payloads differ in the first sector alone; only the
	// stamps at the end of the second tell the writes apart.
	stampAt := 2*sector - page.StampBytes
	if !bytes.Equal(rBytes[sector:stampAt], cBytes[sector:stampAt]) || bytes.Equal(rBytes[:sector], cBytes[:sector]) || bytes.Equal(rBytes[stampAt:], cBytes[stampAt:]) {
		t.Fatal("the copies do not differ in their first sector and their stamps alone")
	}
	tornC := func() {
		must(t, s.WriteAt(cBytes[:sector], addr))
		must(t, s.WriteAt(bytes.Repeat([]byte{0xff}, sector), addr+sector))
		if got, err := page.Load(s); err != nil || got != st3 {
			t.Fatalf("with C torn: %+v, %v; want generation 3", got, err)
		}
	}

	// Unstamped, R's second sector would complete C; its stamp keeps it
	// from doing so even unscrubbed (a device may lose the scrub).
	tornC()
	must(t, s.WriteAt(rBytes[sector:], addr+sector))
	if got, err := page.Load(s); err != nil || got != st3 {
		t.Fatalf("R's second sector completes C: %+v, %v; want generation 3", got, err)
	}
	forged := slices.Clone(rBytes[sector:])
	copy(forged[sector-page.StampBytes:], cBytes[stampAt:])
	must(t, s.WriteAt(forged, addr+sector))
	if got, err := page.Load(s); err != nil || got != c {
		t.Fatalf("R's second sector with C's stamp does not complete C, so the test shows nothing: %+v, %v", got, err)
	}

	// Scrubbed, it cannot.
	tornC()
	if wrote, err := page.Scrub(s, st3); err != nil || !wrote {
		t.Fatalf("Scrub of a torn copy: wrote %v, %v", wrote, err)
	}
	if b := s.Bytes(addr, 2*sector); !bytes.Equal(b, make([]byte, 2*sector)) {
		t.Fatal("Scrub left bytes in the slot")
	}
	must(t, s.WriteAt(rBytes[sector:], addr+sector))
	if got, err := page.Load(s); err != nil || got != st3 {
		t.Fatalf("after Scrub and R torn: %+v, %v; want generation 3", got, err)
	}
	must(t, s.WriteAt(make([]byte, sector), addr+sector))
	if wrote, err := page.Scrub(s, st3); err != nil || wrote {
		t.Fatalf("Scrub of an empty slot: wrote %v, %v", wrote, err)
	}
}
