package segment

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/gopersy/persy/page"
)

// FuzzDecodeCatalog: the catalogue decoder takes any bytes without a
// panic; what it accepts names only pages inside the file, keeps segment
// ids in order below NextSegment, and encodes back to the same bytes.
func FuzzDecodeCatalog(f *testing.F) {
	const end = 1 << 30
	f.Add((&Catalog{NextSegment: 1}).encode(), int64(end))
	f.Add((&Catalog{
		NextSegment: 9,
		Segments: []Entry{
			{ID: 1, Name: "orders", Pages: []page.Ptr{{Ref: page.Ref{Addr: 8192, Exp: 12}, Sum: 7}}},
			{ID: 4, Name: "+_by-customer"},
		},
		Retained: []page.Ref{{Addr: 16384, Exp: 12}, {Addr: 20480, Exp: 9}},
	}).encode(), int64(end))
	f.Add([]byte{2, 0, 0, 0}, int64(4096))
	f.Fuzz(func(t *testing.T, b []byte, end int64) {
		if end < 0 {
			end = -end
		}
		c, err := decodeCatalog(bytes.Clone(b), end)
		if err != nil {
			return
		}
		var last uint64
		for _, e := range c.Segments {
			if e.ID == 0 || e.ID <= last || e.ID >= c.NextSegment {
				t.Fatalf("segment id %d accepted after %d, next %d", e.ID, last, c.NextSegment)
			}
			last = e.ID
			for _, p := range e.Pages {
				if !p.Within(end) {
					t.Fatalf("address page %v outside %d bytes", p.Ref, end)
				}
			}
		}
		for _, r := range c.Retained {
			if !r.Within(end) {
				t.Fatalf("retained page %v outside %d bytes", r, end)
			}
		}
		again, err := decodeCatalog(c.encode(), end)
		if err != nil {
			t.Fatalf("an accepted catalogue does not decode after encoding: %v", err)
		}
		if !reflect.DeepEqual(normal(c), normal(again)) {
			t.Fatalf("round trip changed the catalogue:\n%+v\n%+v", c, again)
		}
	})
}

// normal gives empty and nil slices one form, for comparison.
func normal(c *Catalog) Catalog {
	n := Catalog{NextSegment: c.NextSegment, Retained: append([]page.Ref{}, c.Retained...)}
	for _, e := range c.Segments {
		e.Pages = append([]page.Ptr{}, e.Pages...)
		n.Segments = append(n.Segments, e)
	}
	return n
}
