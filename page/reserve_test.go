package page_test

import (
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"pgregory.net/rapid"
)

// TestReserveCoversWhatFollows: after a history of allocations, frees
// and commits, a Reserve of some pages and of the Commit that frees more
// after them lets the allocations and that Commit run without growing
// the file; so an operation that reserved cannot fail for space half
// done.
func TestReserveCoversWhatFollows(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
		must(t, err)
		st, err := page.Format(s)
		must(t, err)
		a := page.NewAllocator(s, st)
		var owned []page.Ref
		classes := rapid.IntRange(page.MinExp, page.MinExp+4)
		for range rapid.IntRange(0, 12).Draw(t, "rounds") {
			for range rapid.IntRange(0, 60).Draw(t, "allocs") {
				r, err := a.Allocate(uint8(classes.Draw(t, "exp")))
				must(t, err)
				owned = append(owned, r)
			}
			for range rapid.IntRange(0, len(owned)).Draw(t, "frees") {
				i := rapid.IntRange(0, len(owned)-1).Draw(t, "free")
				must(t, a.Free(owned[i]))
				owned = append(owned[:i], owned[i+1:]...)
			}
			must(t, a.Commit(nil))
		}
		var n page.Need
		var order []uint8
		for range rapid.IntRange(1, 80).Draw(t, "reserved") {
			exp := uint8(classes.Draw(t, "reservedExp"))
			n.Add(exp, 1)
			order = append(order, exp)
		}
		var more []page.Ref
		for range rapid.IntRange(0, len(owned)).Draw(t, "moreFrees") {
			i := rapid.IntRange(0, len(owned)-1).Draw(t, "more")
			more = append(more, owned[i])
			owned = append(owned[:i], owned[i+1:]...)
		}
		must(t, a.Reserve(n.Plus(a.CommitNeed(n, more)), rapid.Bool().Draw(t, "ballast")))
		size := s.Size()
		for i, exp := range order {
			if _, err := a.Allocate(exp); err != nil {
				t.Fatal(err)
			}
			if s.Size() != size {
				t.Fatalf("allocation %d of %d reserved grew the file from %d to %d", i+1, len(order), size, s.Size())
			}
		}
		for _, r := range more {
			must(t, a.Free(r))
		}
		must(t, a.Commit(nil))
		if s.Size() != size {
			t.Fatalf("the Commit after the reserved allocations grew the file from %d to %d", size, s.Size())
		}
	})
}
