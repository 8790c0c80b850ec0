package segment

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"pgregory.net/rapid"
)

// TestPackRoundTrip: records of every packable size, packed in order,
// read back as written through their slots, by ReadData and by a Reader
// reading them in order, after the slots have been
// through an address page; each pack lists exactly the slots that name
// it, in entry order, holds at most MaxPacked and is full (the next
// record did not fit it); a pack of one is the record's own data page.
func TestPackRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s, alloc := fileOf(t, 256)
		defer s.Close()
		const seg = 7
		var written []page.Ptr
		p := NewPacker(seg, func(exp uint8, typ page.Type, payload []byte) (page.Ptr, error) {
			r, err := alloc(exp)
			if err != nil {
				return page.Ptr{}, err
			}
			ptr := writePage(t, s, r, typ, payload)
			written = append(written, ptr)
			return ptr, nil
		})
		var slots [SlotsPerPage]Slot
		var want [][]byte
		n := rapid.IntRange(1, 60).Draw(rt, "records")
		for i := range n {
			size := rapid.OneOf(rapid.IntRange(0, 16), rapid.IntRange(0, MaxPackedBytes)).Draw(rt, fmt.Sprint("size ", i))
			rec := bytes.Repeat([]byte{byte(i + 1)}, size)
			want = append(want, rec)
			slots[i] = Slot{Version: 1, Live: true, Pending: bytes.Clone(rec)}
			if err := p.Add(uint64(i), &slots[i]); err != nil {
				rt.Fatal(err)
			}
		}
		if err := p.Flush(); err != nil {
			rt.Fatal(err)
		}
		r, err := alloc(AddressExp)
		if err != nil {
			rt.Fatal(err)
		}
		ptr := writePage(t, s, r, page.TypeAddress, EncodeAddress(seg, 0, &slots))
		var back [SlotsPerPage]Slot
		if err := ReadAddress(s, ptr, seg, 0, s.Size(), &back); err != nil {
			rt.Fatal(err)
		}
		byPack := map[page.Ptr][]uint64{}
		rd := Reader{S: s}
		for i := range n {
			sl := back[i]
			if got, err := rd.Read(sl.Data, sl.Entry, seg, uint64(i)); err != nil || !bytes.Equal(got, want[i]) {
				rt.Fatalf("Reader: record %d: %d bytes, %v; want %d bytes", i, len(got), err, len(want[i]))
			}
			if sl.Pending != nil || sl.Data != slots[i].Data || sl.Entry != slots[i].Entry {
				rt.Fatalf("slot %d reads back as %+v, was written %+v", i, sl, slots[i])
			}
			got, err := ReadData(s, sl.Data, sl.Entry, seg, uint64(i))
			if err != nil || !bytes.Equal(got, want[i]) {
				rt.Fatalf("record %d (entry %d of page %d): %d bytes, %v; want %d bytes", i, sl.Entry, sl.Data.Addr, len(got), err, len(want[i]))
			}
			if err := CheckData(s, sl.Data, sl.Entry, seg, uint64(i)); err != nil {
				rt.Fatalf("CheckData of record %d: %v", i, err)
			}
			if sl.Entry != 0 {
				if int(sl.Entry) != len(byPack[sl.Data])+1 {
					rt.Fatalf("record %d is entry %d of its pack after %d others", i, sl.Entry, len(byPack[sl.Data]))
				}
				byPack[sl.Data] = append(byPack[sl.Data], uint64(i))
			}
		}
		first := 0 // the first record of the page written
		for wi, w := range written {
			if wi > 0 {
				first += max(len(byPack[written[wi-1]]), 1)
			}
			entries := byPack[w]
			if len(entries) == 0 {
				if back[first].Data != w || back[first].Entry != 0 {
					rt.Fatalf("page %d holds no entry and is not record %d's own", w.Addr, first)
				}
				continue
			}
			gs, got, err := PackSlots(s, w)
			if err != nil || gs != seg || fmt.Sprint(got) != fmt.Sprint(entries) {
				rt.Fatalf("PackSlots(%d) = %d %v, %v; slots %v name it", w.Addr, gs, got, err, entries)
			}
			if len(entries) < 2 || len(entries) > MaxPacked {
				rt.Fatalf("a pack of %d entries", len(entries))
			}
			used := packHead
			for _, i := range entries {
				used += packEntry + len(want[i])
			}
			if next := first + len(entries); wi+1 < len(written) && len(entries) < MaxPacked && used+packEntry+len(want[next]) <= packsBytes {
				rt.Fatalf("pack %d of %d bytes closed before record %d of %d bytes, which fits", w.Addr, used, next, len(want[next]))
			}
		}
	})
}

// TestPackEntryChecked: a slot that names the wrong entry of a pack, an
// entry past its last, a pack of another segment, or a pack one byte of
// which changed, reads as a *CorruptError, never as another record.
func TestPackEntryChecked(t *testing.T) {
	s, alloc := fileOf(t, 8)
	defer s.Close()
	ptr := packed(t, s, alloc, 3, 10, "first", "second", "third")
	if got, err := ReadData(s, ptr, 2, 3, 11); err != nil || string(got) != "second" {
		t.Fatalf("entry 2: %q, %v", got, err)
	}
	rd := Reader{S: s}
	if got, err := rd.Read(ptr, 2, 3, 11); err != nil || string(got) != "second" {
		t.Fatalf("Reader: entry 2: %q, %v", got, err)
	}
	var ce *page.CorruptError
	for _, c := range []struct {
		entry    uint8
		seg, n   uint64
		describe string
	}{
		{1, 3, 11, "the entry of another slot"},
		{4, 3, 13, "an entry past the last"},
		{2, 4, 11, "the pack of another segment"},
	} {
		if got, err := ReadData(s, ptr, c.entry, c.seg, c.n); !errors.As(err, &ce) {
			t.Errorf("%s: %q, %v; want a CorruptError", c.describe, got, err)
		}
		if got, err := rd.Read(ptr, c.entry, c.seg, c.n); !errors.As(err, &ce) {
			t.Errorf("Reader: %s: %q, %v; want a CorruptError", c.describe, got, err)
		}
	}
	if _, err := ReadData(s, ptr, 0, 3, 10); !errors.As(err, &ce) {
		t.Errorf("a pack read as a data page: %v", err)
	}
	b := s.Bytes(ptr.Addr+page.HeaderSize+packHead+3*packEntry, 1)
	mustT(t, s.WriteAt([]byte{b[0] ^ 1}, ptr.Addr+page.HeaderSize+packHead+3*packEntry))
	for e := range uint8(3) {
		if got, err := ReadData(s, ptr, e+1, 3, uint64(10+e)); !errors.As(err, &ce) {
			t.Errorf("entry %d of a changed pack: %q, %v", e+1, got, err)
		}
	}
	if _, _, err := PackSlots(s, ptr); !errors.As(err, &ce) {
		t.Errorf("PackSlots of a changed pack: %v", err)
	}
}

// packed writes records, slots first, first+1, ... of segment seg, into
// one pack of s and returns it.
func packed(t *testing.T, s mmapfile.Storage, alloc func(uint8) (page.Ref, error), seg, first uint64, records ...string) page.Ptr {
	t.Helper()
	var ptr page.Ptr
	p := NewPacker(seg, func(exp uint8, typ page.Type, payload []byte) (page.Ptr, error) {
		r, err := alloc(exp)
		if err != nil {
			return page.Ptr{}, err
		}
		ptr = writePage(t, s, r, typ, payload)
		return ptr, nil
	})
	for i, rec := range records {
		mustT(t, p.Add(first+uint64(i), &Slot{Live: true, Pending: []byte(rec)}))
	}
	mustT(t, p.Flush())
	return ptr
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestReaderCopies: what a Reader returns are copies: changing one, or
// appending to it, changes neither the file nor the record read after it
// (which may share its block); an empty record is empty, not nil, as
// ReadData returns it.
func TestReaderCopies(t *testing.T) {
	s, alloc := fileOf(t, 8)
	defer s.Close()
	ptr := packed(t, s, alloc, 1, 0, "one", "two", "")
	if e, err := (&Reader{S: s}).Read(ptr, 3, 1, 2); err != nil || e == nil || len(e) != 0 {
		t.Fatalf("an empty record reads as %#v, %v", e, err)
	}
	rd := Reader{S: s}
	a, err := rd.Read(ptr, 1, 1, 0)
	mustT(t, err)
	b, err := rd.Read(ptr, 2, 1, 1)
	mustT(t, err)
	a[0] = 'X'
	_ = append(a, "XXX"...)
	if string(b) != "two" {
		t.Fatalf("the second record reads %q after the first was changed", b)
	}
	if again, err := ReadData(s, ptr, 1, 1, 0); err != nil || string(again) != "one" {
		t.Fatalf("the file's record reads %q, %v after its copy was changed", again, err)
	}
}
