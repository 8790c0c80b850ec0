package segment

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"pgregory.net/rapid"
)

// fileOf returns a storage of n pages of 4 KiB and a bump allocator
// over it, from the second page on.
func fileOf(t testing.TB, n int64) (mmapfile.Storage, func(exp uint8) (page.Ref, error)) {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Grow(n << 12); err != nil {
		t.Fatal(err)
	}
	next := int64(1 << 12)
	return s, func(exp uint8) (page.Ref, error) {
		r := page.Ref{Addr: next, Exp: exp}
		if next+r.Bytes() > n<<12 {
			return page.Ref{}, errors.New("file full")
		}
		next += max(r.Bytes(), 1<<12)
		return r, nil
	}
}

func writePage(t testing.TB, s mmapfile.Storage, r page.Ref, typ page.Type, payload []byte) page.Ptr {
	h := page.Header{Exp: r.Exp, Type: typ, Addr: r.Addr, Seq: 1}
	p, err := page.WritePtr(s, make([]byte, r.Bytes()), h, payload)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAddressPageRoundTrip: an address page reads back as written, live
// slots and the versions of empty ones alike, and only as the page of
// the segment and index it was written for.
func TestAddressPageRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s, alloc := fileOf(t, 64)
		defer s.Close()
		var slots [SlotsPerPage]Slot
		for i := range rapid.IntRange(0, 40).Draw(rt, "slots") {
			n := rapid.IntRange(0, SlotsPerPage-1).Draw(rt, fmt.Sprint("slot ", i))
			slots[n].Version = rapid.Uint32Range(1, 1<<32-1).Draw(rt, "version")
			if rapid.Bool().Draw(rt, "live") {
				ref := page.Ref{Addr: int64(rapid.IntRange(1, 63).Draw(rt, "page")) << 12, Exp: uint8(rapid.IntRange(page.MinExp, 12).Draw(rt, "exp"))}
				slots[n].Data, slots[n].Live = page.Ptr{Ref: ref, Sum: rapid.Uint32().Draw(rt, "sum")}, true
			} else {
				slots[n].Data, slots[n].Live = page.Ptr{}, false
			}
		}
		seg, index := rapid.Uint64Range(1, 1<<40).Draw(rt, "seg"), rapid.Uint64Range(0, 1<<20).Draw(rt, "index")
		r, err := alloc(AddressExp)
		if err != nil {
			rt.Fatal(err)
		}
		ptr := writePage(t, s, r, page.TypeAddress, EncodeAddress(seg, index, &slots))
		var got [SlotsPerPage]Slot
		if err := ReadAddress(s, ptr, seg, index, 64<<12, &got); err != nil {
			rt.Fatalf("ReadAddress: %v", err)
		}
		if !reflect.DeepEqual(got, slots) {
			rt.Fatalf("slots read back differ from those written")
		}
		var ce *page.CorruptError
		if err := ReadAddress(s, ptr, seg+1, index, 64<<12, &got); !errors.As(err, &ce) {
			rt.Fatalf("the page read as another segment's: %v, want a CorruptError", err)
		}
		if err := ReadAddress(s, ptr, seg, index+1, 64<<12, &got); !errors.As(err, &ce) {
			rt.Fatalf("the page read as another index's: %v, want a CorruptError", err)
		}
	})
}

// TestAddressPageRefusesSlotsOutsideTheFile: a live slot naming a page
// past the allocator's end, or a live slot of version zero, is
// corruption, even under a valid checksum.
func TestAddressPageRefusesSlotsOutsideTheFile(t *testing.T) {
	s, alloc := fileOf(t, 8)
	defer s.Close()
	for _, bad := range []Slot{
		{Data: page.Ptr{Ref: page.Ref{Addr: 8 << 12, Exp: 12}}, Version: 1, Live: true},
		{Data: page.Ptr{Ref: page.Ref{Addr: 1 << 12, Exp: 12}, Sum: 5}, Version: 0, Live: true},
	} {
		var slots [SlotsPerPage]Slot
		slots[7] = bad
		r, err := alloc(AddressExp)
		if err != nil {
			t.Fatal(err)
		}
		ptr := writePage(t, s, r, page.TypeAddress, EncodeAddress(1, 0, &slots))
		var ce *page.CorruptError
		if err := ReadAddress(s, ptr, 1, 0, 8<<12, &slots); !errors.As(err, &ce) {
			t.Fatalf("slot %+v accepted: %v", bad, err)
		}
	}
}

// TestDataPage: a record reads back as written, as a copy; a flipped
// byte, or a page of another type where the slot expects data, is a
// CorruptError.
func TestDataPage(t *testing.T) {
	s, alloc := fileOf(t, 8)
	defer s.Close()
	rec := bytes.Repeat([]byte("record "), 50)
	exp, ok := DataExp(len(rec))
	if !ok {
		t.Fatal("DataExp refuses a small record")
	}
	r, err := alloc(exp)
	if err != nil {
		t.Fatal(err)
	}
	ptr := writePage(t, s, r, page.TypeData, rec)
	got, err := ReadData(s, ptr, 0, 1, 0)
	if err != nil || !bytes.Equal(got, rec) {
		t.Fatalf("ReadData = %q, %v", got, err)
	}
	got[0] ^= 1
	if again, _ := ReadData(s, ptr, 0, 1, 0); !bytes.Equal(again, rec) {
		t.Fatal("ReadData returned the page's bytes, not a copy")
	}
	if err := CheckData(s, ptr, 0, 1, 0); err != nil {
		t.Fatalf("CheckData of a good page: %v", err)
	}
	var ce *page.CorruptError
	b := s.Bytes(r.Addr+page.HeaderSize+3, 1)
	flipped := []byte{b[0] ^ 0x40}
	if err := s.WriteAt(flipped, r.Addr+page.HeaderSize+3); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadData(s, ptr, 0, 1, 0); !errors.As(err, &ce) {
		t.Fatalf("ReadData of a flipped page: %v, want a CorruptError", err)
	}
	if err := CheckData(s, ptr, 0, 1, 0); !errors.As(err, &ce) {
		t.Fatalf("CheckData of a flipped page: %v, want a CorruptError", err)
	}
	ar, err := alloc(AddressExp)
	if err != nil {
		t.Fatal(err)
	}
	var slots [SlotsPerPage]Slot
	aptr := writePage(t, s, ar, page.TypeAddress, EncodeAddress(1, 0, &slots))
	if _, err := ReadData(s, aptr, 0, 1, 0); !errors.As(err, &ce) {
		t.Fatalf("an address page read as data: %v, want a CorruptError", err)
	}
	if _, ok := DataExp(MaxRecordBytes + 1); ok {
		t.Fatal("DataExp accepts a record past MaxRecordBytes")
	}
	if _, ok := DataExp(MaxRecordBytes); !ok {
		t.Fatal("DataExp refuses a record of MaxRecordBytes")
	}
}

// TestCatalogRoundTrip: a catalogue written over as many pages as it
// needs reads back equal, with the pages it was written to, and the
// number of pages written is the one CatalogNeed counted.
func TestCatalogRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		const pages = 512
		s, alloc := fileOf(t, pages)
		defer s.Close()
		c := &Catalog{NextSegment: 1}
		for range rapid.IntRange(0, 30).Draw(rt, "segments") {
			e := Entry{ID: c.NextSegment, Name: fmt.Sprintf("seg-%d-%s", c.NextSegment, bytes.Repeat([]byte("n"), rapid.IntRange(0, 200).Draw(rt, "name")))}
			for range rapid.IntRange(0, 700).Draw(rt, "pages") {
				e.Pages = append(e.Pages, page.Ptr{Ref: page.Ref{Addr: int64(rapid.IntRange(1, pages-1).Draw(rt, "page")) << 12, Exp: AddressExp}, Sum: rapid.Uint32().Draw(rt, "sum")})
			}
			c.Segments = append(c.Segments, e)
			c.NextSegment += rapid.Uint64Range(1, 3).Draw(rt, "gap")
		}
		for range rapid.IntRange(0, 700).Draw(rt, "retained") {
			c.Retained = append(c.Retained, page.Ref{Addr: int64(rapid.IntRange(1, pages-1).Draw(rt, "page")) << 12, Exp: 12})
		}
		refs, err := WriteCatalog(s, alloc, 3, c)
		if err != nil {
			rt.Fatalf("WriteCatalog: %v", err)
		}
		counted := 0
		for _, k := range CatalogNeed(c) {
			counted += k
		}
		if counted != len(refs) {
			rt.Fatalf("CatalogNeed counts %d pages, WriteCatalog wrote %d", counted, len(refs))
		}
		got, read, err := ReadCatalog(s, refs[0], pages<<12)
		if err != nil {
			rt.Fatalf("ReadCatalog: %v", err)
		}
		if !reflect.DeepEqual(normal(got), normal(c)) {
			rt.Fatalf("the catalogue read back differs:\n%+v\n%+v", got, c)
		}
		if !reflect.DeepEqual(read, refs) {
			rt.Fatalf("ReadCatalog read pages %v, WriteCatalog wrote %v", read, refs)
		}
	})
}
