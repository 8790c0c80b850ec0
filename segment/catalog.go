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
	Pages []page.Ref // its address pages, by index
}

// MaxNameBytes bounds a segment's name.
const MaxNameBytes = 1024

const (
	catalogVersion = 1
	catalogLink    = 8 // each catalogue page starts with the address of the next
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
func WriteCatalog(s mmapfile.Storage, alloc func(exp uint8) (page.Ref, error), seq uint64, c *Catalog) ([]page.Ref, error) {
	blob := c.encode()
	// Size the chain first: each page links to the next, so every page
	// must be allocated before the one linking to it is written.
	var refs []page.Ref
	var parts [][]byte
	for rest := blob; len(rest) > 0 || len(refs) == 0; {
		exp, ok := page.ExpFor(len(rest) + catalogLink)
		if !ok {
			exp = page.MaxExp
		}
		n := min(len(rest), page.Capacity(exp)-catalogLink)
		r, err := alloc(exp)
		if err != nil {
			return nil, err
		}
		refs = append(refs, r)
		parts = append(parts, rest[:n])
		rest = rest[n:]
	}
	for i, r := range refs {
		var next int64
		if i+1 < len(refs) {
			next = refs[i+1].Addr
		}
		p := binary.LittleEndian.AppendUint64(make([]byte, 0, catalogLink+len(parts[i])), uint64(next))
		p = append(p, parts[i]...)
		h := page.Header{Exp: r.Exp, Type: page.TypeCatalog, Addr: r.Addr, Seq: seq}
		if err := page.Write(s, make([]byte, r.Bytes()), h, p); err != nil {
			return nil, err
		}
	}
	return refs, nil
}

// ReadCatalog reads the catalogue whose first page is at addr, in a file
// whose allocator end is end, and returns it with its pages.
func ReadCatalog(s mmapfile.Storage, addr, end int64) (*Catalog, []page.Ref, error) {
	var blob []byte
	var refs []page.Ref
	seen := map[int64]bool{}
	for addr != 0 {
		if seen[addr] {
			return nil, refs, &page.CorruptError{Page: addr, Reason: "the catalogue's chain loops"}
		}
		seen[addr] = true
		h, p, err := page.Read(s, addr)
		if err != nil {
			return nil, refs, err
		}
		r := page.Ref{Addr: addr, Exp: h.Exp}
		if h.Type != page.TypeCatalog || len(p) < catalogLink || !r.Within(end) {
			return nil, refs, &page.CorruptError{Page: addr, Reason: fmt.Sprintf("a %v page where the catalogue belongs", h.Type)}
		}
		refs = append(refs, r)
		blob = append(blob, p[catalogLink:]...)
		addr = int64(binary.LittleEndian.Uint64(p))
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
		if err == nil && (r.Exp < page.MinExp || !r.Within(end)) {
			err = fmt.Errorf("page %d of exponent %d outside the file's %d bytes", r.Addr, r.Exp, end)
		}
		return r, err
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
		if np > uint64(len(b))/8 {
			return nil, bad
		}
		for range np {
			r, err := ref()
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
