package page

import (
	"cmp"
	"slices"

	"github.com/gopersy/persy/mmapfile"
)

// Owned names the pages of a file that are not the allocator's: found by
// their owners' walk of the structures they hold.
type Owned struct {
	// Reachable pages hold live data and must read as valid pages.
	Reachable []Ref
	// Reserved pages are allocated to an owner and not yet written (the
	// journal's next page and spares): their content is anything.
	Reserved []Ref
	// Pending pages are freed by their owner and not yet durably free.
	Pending []Ref
}

// Check walks the pages of s from the root state st and returns every
// violation it finds, each a *CorruptError, in address order. With the
// allocator's own pages (the root page and slots, every free-list chunk
// and the free pages it lists, the pages in limbo) the owned pages must
// cover the allocated part of the file, [FirstPage, st.End), each page
// exactly once: nothing free twice, nothing both free and owned, nothing
// beyond the end, nothing leaked. Every chunk and every reachable page
// must pass its checksum and name its own address, and every page must
// sit where the allocator places pages of its size (see Aligned).
func Check(s mmapfile.Storage, st State, owned Owned) []error {
	reachable, pending := owned.Reachable, owned.Pending
	var (
		spans []span
		errs  []error
	)
	bad := func(addr int64, format string, a ...any) { errs = append(errs, corrupt(addr, format, a...)) }
	if st.End > s.Size() {
		bad(st.End, "the allocator end is past the end of the file, %d bytes", s.Size())
	}
	// At most this many chunks fit the file: a longer walk is a cycle.
	maxChunks := st.End / MinBytes
	for c, f := range st.Free {
		exp := uint8(MinExp + c)
		var count uint64
		top, used := Ptr{Ref{f.Top, exp}, f.TopSum}, f.Used
		for n := int64(0); top.Addr != 0; n++ {
			if n > maxChunks {
				bad(top.Addr, "the free list of %d-byte pages does not end: a cycle", 1<<exp)
				break
			}
			entries, prev, prevUsed, err := readChunk(s, top, st.End)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if int(used) > len(entries) {
				bad(top.Addr, "the list says %d of its %d entries are handed out", used, len(entries))
				break
			}
			spans = append(spans, span{top.Ref, "a free-list chunk"})
			for _, e := range entries[:len(entries)-int(used)] {
				spans = append(spans, span{Ref{e, exp}, "free"})
			}
			count += 1 + uint64(len(entries)-int(used))
			top, used = prev, prevUsed
		}
		if count != f.Count {
			bad(f.Top, "the free list of %d-byte pages holds %d pages, the root state says %d", 1<<exp, count, f.Count)
		}
	}
	for _, e := range st.Limbo[:st.LimboCount] {
		addr, exp := unpackLimbo(e)
		spans = append(spans, span{Ref{addr, exp}, "in limbo"})
	}
	for _, r := range reachable {
		spans = append(spans, span{r, "reachable"})
		if !r.Within(st.End) {
			continue // reported as beyond the allocated part below
		}
		h, _, err := Read(s, r.Addr)
		switch {
		case err != nil:
			errs = append(errs, err)
		case h.Exp != r.Exp:
			bad(r.Addr, "a reachable page of %d bytes reads as %d", r.Bytes(), h.Bytes())
		case h.Type == TypeFree:
			bad(r.Addr, "a reachable page reads as a free-list chunk")
		}
	}
	for _, r := range owned.Reserved {
		spans = append(spans, span{r, "reserved"})
	}
	for _, r := range pending {
		spans = append(spans, span{r, "pending free"})
	}
	return append(errs, cover(spans, st.End)...)
}

type span struct {
	Ref
	what string
}

// cover reports the overlaps, gaps and overruns of spans over
// [FirstPage, end).
func cover(spans []span, end int64) []error {
	slices.SortStableFunc(spans, func(a, b span) int { return cmp.Compare(a.Addr, b.Addr) })
	var errs []error
	pos := int64(FirstPage)
	var last span
	for _, sp := range spans {
		if !Aligned(sp.Addr, sp.Exp) {
			errs = append(errs, corrupt(sp.Addr, "%s page of %d bytes is not aligned as the allocator places pages", sp.what, sp.Bytes()))
		}
		switch {
		case !sp.Within(end):
			errs = append(errs, corrupt(sp.Addr, "%s page of %d bytes outside the allocated pages [%d, %d)", sp.what, sp.Bytes(), FirstPage, end))
			continue
		case sp.Addr < pos:
			errs = append(errs, corrupt(sp.Addr, "%s page of %d bytes overlaps %s page of %d bytes at %d", sp.what, sp.Bytes(), last.what, last.Bytes(), last.Addr))
		case sp.Addr > pos:
			errs = append(errs, leak(pos, sp.Addr))
		}
		if e := sp.Addr + sp.Bytes(); e > pos {
			pos, last = e, sp
		}
	}
	if pos < end {
		errs = append(errs, leak(pos, end))
	}
	return errs
}

func leak(from, to int64) error {
	return corrupt(from, "%d bytes leaked: [%d, %d) is neither reachable, free, pending nor the allocator's", to-from, from, to)
}
