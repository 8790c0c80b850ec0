package segment

import (
	"strings"
	"testing"

	"github.com/gopersy/persy/page"
	"pgregory.net/rapid"
)

// TestCatalogNeedFor: the pages counted from a catalogue's sizes alone are
// those counted from the catalogue itself, for catalogues small and
// large enough to span several pages.
func TestCatalogNeedFor(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := &Catalog{NextSegment: rapid.Uint64().Draw(t, "next")}
		names, pages := 0, 0
		for i := range rapid.IntRange(0, 40).Draw(t, "segments") {
			name := strings.Repeat("n", rapid.IntRange(1, MaxNameBytes).Draw(t, "name"))
			e := Entry{ID: uint64(i + 1), Name: name, Pages: make([]page.Ptr, rapid.IntRange(0, 3000).Draw(t, "pages"))}
			c.Segments = append(c.Segments, e)
			names, pages = names+len(name), pages+len(e.Pages)
		}
		c.Retained = make([]page.Ref, rapid.IntRange(0, 5000).Draw(t, "retained"))
		if got, want := CatalogNeedFor(len(c.Segments), names, pages, len(c.Retained)), CatalogNeed(c); got != want {
			t.Fatalf("CatalogNeedFor %v, CatalogNeed %v", got, want)
		}
	})
}
