package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

// Catalog is the catalogue a checkpoint writes: every segment with its
// address pages, and the pages that were still read by snapshots when it
// was written, which a reopened file frees.
type Catalog struct {
	// NextSegment is the id the next segment created gets.
	NextSegment uint64
	// Segments is in id order.
	Segments []Entry
	// Retained are data pages no longer reachable that snapshots still
	// read: free as soon as no snapshot is open.
	Retained []page.Ref
}

// Entry is one segment of a catalogue.
type Entry struct {
	ID    uint64
	Name  string
	Pages []page.Ptr // its address pages, by index
}

// MaxNameBytes bounds a segment's name.
const MaxNameBytes = 1024

const (
	catalogVersion = 2
	// catalogLink is the link each catalogue page starts with: the next
	// page (a packed Ref, 0 for none) and its checksum.
	catalogLink = 8 + 4
)

func (c *Catalog) encode() []byte {
	b := binary.LittleEndian.AppendUint32(nil, catalogVersion)
	b = binary.LittleEndian.AppendUint64(b, c.NextSegment)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(c.Segments)))
	for _, e := range c.Segments {
		b = binary.LittleEndian.AppendUint64(b, e.ID)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(e.Name)))
		b = append(b, e.Name...)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(e.Pages)))
		for _, r := range e.Pages {
			b = binary.LittleEndian.AppendUint64(b, uint64(r.Pack()))
			b = binary.LittleEndian.AppendUint32(b, r.Sum)
		}
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(c.Retained)))
	for _, r := range c.Retained {
		b = binary.LittleEndian.AppendUint64(b, uint64(r.Pack()))
	}
	return b
}

// WriteCatalog writes c into new pages taken from alloc, chained from the
// first, and returns them, the first at [0]. It does not sync.
func WriteCatalog(s mmapfile.Storage, alloc func(exp uint8) (page.Ref, error), seq uint64, c *Catalog) ([]page.Ptr, error) {
	blob := c.encode()
	// Size the chain first: each page links to the next, so every page
	// must be allocated before the one linking to it is written.
	var refs []page.Ref
	var parts [][]byte
	exps, ns := catalogPages(len(blob))
	for i, exp := range exps {
		r, err := alloc(exp)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
		parts = append(parts, blob[:ns[i]])
		blob = blob[ns[i]:]
	}
	// Last first: each page links to the next with the checksum it
	// was written with.
	ptrs := make([]page.Ptr, len(refs))
	var next page.Ptr
	for i := len(refs) - 1; i >= 0; i-- {
		r := refs[i]
		p := binary.LittleEndian.AppendUint64(make([]byte, 0, catalogLink+len(parts[i])), uint64(next.Pack()))
		p = binary.LittleEndian.AppendUint32(p, next.Sum)
		p = append(p, parts[i]...)
		h := page.Header{Exp: r.Exp, Type: page.TypeCatalog, Addr: r.Addr, Seq: seq}
		ptr, err := page.WritePtr(s, make([]byte, r.Bytes()), h, p)
		if err != nil {
			return nil, err
		}
		ptrs[i], next = ptr, ptr
	}
	return ptrs, nil
}

// catalogPages returns the size exponent of each page of the chain a
// catalogue of n encoded bytes takes, and how many of the bytes each
// holds.
func catalogPages(n int) (exps []uint8, ns []int) {
	for len(exps) == 0 || n > 0 {
		exp, ok := page.ExpFor(n + catalogLink)
		if !ok {
			exp = page.MaxExp
		}
		k := min(n, page.Capacity(exp)-catalogLink)
		exps, ns = append(exps, exp), append(ns, k)
		n -= k
	}
	return exps, ns
}

// CatalogNeed returns the pages WriteCatalog allocates for c.
func CatalogNeed(c *Catalog) page.Need {
	return catalogNeedBytes(len(c.encode()))
}

// CatalogNeedFor returns the pages WriteCatalog allocates for a catalogue
// of segments segments whose names take nameBytes bytes, holding pages
// address pages and retained pages in all: CatalogNeed without the
// catalogue.
func CatalogNeedFor(segments, nameBytes, pages, retained int) page.Need {
	return catalogNeedBytes(4 + 8 + 8 + segments*(8+2+8) + nameBytes + pages*(8+4) + 8 + retained*8)
}

func catalogNeedBytes(n int) page.Need {
	var need page.Need
	exps, _ := catalogPages(n)
	for _, exp := range exps {
		need.Add(exp, 1)
	}
	return need
}

// ReadCatalog reads the catalogue whose first page is first (the zero
// Ptr for none), in a file whose allocator end is end, and returns it
// with its pages.
func ReadCatalog(s mmapfile.Storage, first page.Ptr, end int64) (*Catalog, []page.Ptr, error) {
	var blob []byte
	var refs []page.Ptr
	seen := map[int64]bool{}
	for r := first; r.Ref != (page.Ref{}); {
		if seen[r.Addr] {
			return nil, refs, &page.CorruptError{Page: r.Addr, Reason: "the catalogue's chain loops"}
		}
		seen[r.Addr] = true
		if !r.Within(end) {
			return nil, refs, &page.CorruptError{Page: r.Addr, Reason: fmt.Sprintf("a catalogue page of %d bytes outside the allocated pages up to %d", r.Bytes(), end)}
		}
		h, p, err := page.ReadPtr(s, r)
		if err != nil {
			return nil, refs, err
		}
		if h.Type != page.TypeCatalog || len(p) < catalogLink {
			return nil, refs, &page.CorruptError{Page: r.Addr, Reason: fmt.Sprintf("a %v page where the catalogue belongs", h.Type)}
		}
		refs = append(refs, r)
		blob = append(blob, p[catalogLink:]...)
		r = page.Ptr{Ref: page.Unpack(int64(binary.LittleEndian.Uint64(p))), Sum: binary.LittleEndian.Uint32(p[8:])}
	}
	if len(refs) == 0 {
		return &Catalog{NextSegment: 1}, nil, nil
	}
	c, err := decodeCatalog(blob, end)
	if err != nil {
		return nil, refs, &page.CorruptError{Page: refs[0].Addr, Reason: "catalogue: " + err.Error()}
	}
	return c, refs, nil
}

func decodeCatalog(b []byte, end int64) (*Catalog, error) {
	bad := fmt.Errorf("truncated")
	u64 := func() (uint64, error) {
		if len(b) < 8 {
			return 0, bad
		}
		v := binary.LittleEndian.Uint64(b)
		b = b[8:]
		return v, nil
	}
	ref := func() (page.Ref, error) {
		v, err := u64()
		r := page.Unpack(int64(v))
		if err == nil && !r.Within(end) {
			err = fmt.Errorf("page %d of exponent %d outside the file's %d bytes", r.Addr, r.Exp, end)
		}
		return r, err
	}
	ptr := func() (page.Ptr, error) {
		r, err := ref()
		if err != nil {
			return page.Ptr{}, err
		}
		if len(b) < 4 {
			return page.Ptr{}, bad
		}
		sum := binary.LittleEndian.Uint32(b)
		b = b[4:]
		return page.Ptr{Ref: r, Sum: sum}, nil
	}
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != catalogVersion {
		return nil, fmt.Errorf("unknown version")
	}
	b = b[4:]
	c := &Catalog{}
	var err error
	if c.NextSegment, err = u64(); err != nil {
		return nil, err
	}
	n, err := u64()
	if err != nil {
		return nil, err
	}
	if n > uint64(len(b)) {
		return nil, fmt.Errorf("%d segments in %d bytes", n, len(b))
	}
	for range n {
		var e Entry
		if e.ID, err = u64(); err != nil {
			return nil, err
		}
		if len(b) < 2 {
			return nil, bad
		}
		nl := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if nl > len(b) || nl > MaxNameBytes {
			return nil, bad
		}
		e.Name = string(b[:nl])
		b = b[nl:]
		np, err := u64()
		if err != nil {
			return nil, err
		}
		if np > uint64(len(b))/12 {
			return nil, bad
		}
		for range np {
			r, err := ptr()
			if err != nil {
				return nil, err
			}
			e.Pages = append(e.Pages, r)
		}
		if e.ID == 0 || e.ID >= c.NextSegment || len(c.Segments) > 0 && c.Segments[len(c.Segments)-1].ID >= e.ID {
			return nil, fmt.Errorf("segment id %d out of order (next id %d)", e.ID, c.NextSegment)
		}
		c.Segments = append(c.Segments, e)
	}
	nr, err := u64()
	if err != nil {
		return nil, err
	}
	if nr != uint64(len(b))/8 || len(b)%8 != 0 {
		return nil, fmt.Errorf("%d retained pages in %d bytes", nr, len(b))
	}
	for range nr {
		r, err := ref()
		if err != nil {
			return nil, err
		}
		c.Retained = append(c.Retained, r)
	}
	return c, nil
}
