package page_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"pgregory.net/rapid"
)

func must(t interface {
	Helper()
	Fatal(...any)
}, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isCorrupt(err error) bool {
	var ce *page.CorruptError
	return errors.As(err, &ce)
}

func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		exp := uint8(rapid.IntRange(page.MinExp, 13).Draw(t, "exp"))
		h := page.Header{
			Exp:  exp,
			Type: page.Type(rapid.IntRange(1, int(page.TypeIndex)).Draw(t, "type")),
			Addr: int64(rapid.IntRange(0, 1<<20).Draw(t, "addr")) * page.MinBytes,
			Seq:  rapid.Uint64().Draw(t, "seq"),
		}
		payload := rapid.SliceOfN(rapid.Byte(), 0, page.Capacity(exp)).Draw(t, "payload")
		buf := make([]byte, h.Bytes())
		must(t, page.Encode(buf, h, payload))
		got, p, err := page.Decode(buf, h.Addr)
		must(t, err)
		h.Used = len(payload)
		if got != h || !bytes.Equal(p, payload) {
			t.Fatalf("decoded %+v %x, encoded %+v %x", got, p, h, payload)
		}
	})
}

// TestEveryDamageIsDetected flips each bit of a page in turn, and checks
// the page read at another address and as another size: every one is a
// *CorruptError.
func TestEveryDamageIsDetected(t *testing.T) {
	h := page.Header{Exp: page.MinExp, Type: page.TypeData, Addr: 8 * page.MinBytes, Seq: 42}
	buf := make([]byte, h.Bytes())
	must(t, page.Encode(buf, h, []byte("some record")))
	for bit := range len(buf) * 8 {
		b := bytes.Clone(buf)
		b[bit/8] ^= 1 << (bit % 8)
		if _, _, err := page.Decode(b, h.Addr); !isCorrupt(err) {
			t.Fatalf("bit %d flipped: %v", bit, err)
		}
	}
	if _, _, err := page.Decode(buf, h.Addr+page.MinBytes); !isCorrupt(err) {
		t.Errorf("a page read at another address: %v", err)
	}
	if _, _, err := page.Decode(append(bytes.Clone(buf), make([]byte, page.MinBytes)...), h.Addr); !isCorrupt(err) {
		t.Errorf("a page read as twice its size: %v", err)
	}
	for _, n := range []int{0, page.HeaderSize - 1, page.MinBytes} {
		if _, _, err := page.Decode(make([]byte, n), 0); !isCorrupt(err) {
			t.Errorf("%d zero bytes: %v", n, err)
		}
	}
}

func TestTornPageIsDetected(t *testing.T) {
	// A 4 KiB page rewritten with new content and torn at each sector.
	h := page.Header{Exp: 12, Type: page.TypeData, Addr: 4096, Seq: 1}
	old, neu := make([]byte, h.Bytes()), make([]byte, h.Bytes())
	must(t, page.Encode(old, h, bytes.Repeat([]byte{1}, 4000)))
	h.Seq = 2
	must(t, page.Encode(neu, h, bytes.Repeat([]byte{2}, 3000)))
	for cut := mmapfile.SectorBytes; cut < h.Bytes(); cut += mmapfile.SectorBytes {
		for _, torn := range [][]byte{append(bytes.Clone(old[:cut]), neu[cut:]...), append(bytes.Clone(neu[:cut]), old[cut:]...)} {
			if _, _, err := page.Decode(torn, h.Addr); !isCorrupt(err) {
				t.Fatalf("torn at %d: %v", cut, err)
			}
		}
	}
}

// Two writes of the same page at the same address, whose payloads differ
// only in their first bytes: every image mixing sectors of both fails to
// validate on a stamped page, while on an unstamped one a mix holding the
// first write's header sector validates as that write (the hazard stamps
// exist for). Each stamped write reads back whole, payload intact.
func TestStampedPagesValidateOnlyAsOneWrite(t *testing.T) {
	sectors := (1 << 12) / mmapfile.SectorBytes
	for _, typ := range []page.Type{page.TypeJournal, page.TypeRootSlot, page.TypeData} {
		h := page.Header{Exp: 12, Type: typ, Addr: 8192, Seq: 7}
		a, b := make([]byte, h.Bytes()), make([]byte, h.Bytes())
		pa := bytes.Repeat([]byte{9}, page.CapacityOf(typ, h.Exp))
		pb := bytes.Clone(pa)
		pa[0], pb[0] = 1, 2
		for _, payload := range [][]byte{pa[:40], pa} {
			must(t, page.Encode(a, h, payload))
			must(t, page.Encode(b, h, append(pb[:0:0], pb[:len(payload)]...)))
			for _, w := range [][]byte{a, b} {
				if _, got, err := page.Decode(w, h.Addr); err != nil || len(got) != len(payload) || !bytes.Equal(got[1:], payload[1:]) {
					t.Fatalf("%v page of %d bytes: read back %d bytes, %v", typ, len(payload), len(got), err)
				}
			}
			forged := 0
			for mask := 1; mask < 1<<sectors-1; mask++ { // sector i from b where bit i is set
				img := bytes.Clone(a)
				for i := range sectors {
					if mask&(1<<i) != 0 {
						copy(img[i*mmapfile.SectorBytes:(i+1)*mmapfile.SectorBytes], b[i*mmapfile.SectorBytes:])
					}
				}
				if _, _, err := page.Decode(img, h.Addr); err == nil {
					forged++
				} else if !isCorrupt(err) {
					t.Fatalf("%v page, sectors %b of the second write: %v", typ, mask, err)
				}
			}
			switch stampedType := typ != page.TypeData; {
			case stampedType && forged > 0:
				t.Errorf("%v page of %d payload bytes: %d images mixing two writes validate", typ, len(payload), forged)
			case !stampedType && forged == 0:
				t.Errorf("%v page of %d payload bytes: no mixed image validates, so the test shows nothing", typ, len(payload))
			}
		}
	}
	if page.CapacityOf(page.TypeJournal, 12) != page.Capacity(12)-7*page.StampBytes {
		t.Errorf("a stamped 4 KiB page holds %d payload bytes", page.CapacityOf(page.TypeJournal, 12))
	}
}

func TestEncodeRefusesBadPages(t *testing.T) {
	ok := page.Header{Exp: page.MinExp, Type: page.TypeData, Addr: page.MinBytes}
	for name, c := range map[string]struct {
		h       page.Header
		buf     int
		payload int
	}{
		"small exp":      {page.Header{Exp: page.MinExp - 1, Type: page.TypeData}, 256, 0},
		"large exp":      {page.Header{Exp: page.MaxExp + 1, Type: page.TypeData}, 1 << 21, 0},
		"buffer size":    {ok, page.MinBytes + 1, 0},
		"type zero":      {page.Header{Exp: page.MinExp}, page.MinBytes, 0},
		"unknown type":   {page.Header{Exp: page.MinExp, Type: 200}, page.MinBytes, 0},
		"payload":        {ok, page.MinBytes, page.Capacity(page.MinExp) + 1},
		"unaligned addr": {page.Header{Exp: page.MinExp, Type: page.TypeData, Addr: 100}, page.MinBytes, 0},
	} {
		if err := page.Encode(make([]byte, c.buf), c.h, make([]byte, c.payload)); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

func TestExpFor(t *testing.T) {
	for _, c := range []struct {
		n    int
		exp  uint8
		fits bool
	}{{0, 9, true}, {page.Capacity(9), 9, true}, {page.Capacity(9) + 1, 10, true}, {page.Capacity(page.MaxExp), page.MaxExp, true}, {page.Capacity(page.MaxExp) + 1, 0, false}} {
		if exp, fits := page.ExpFor(c.n); exp != c.exp || fits != c.fits {
			t.Errorf("ExpFor(%d) = %d, %v; want %d, %v", c.n, exp, fits, c.exp, c.fits)
		}
	}
}

func TestReadChecksBounds(t *testing.T) {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	must(t, s.Grow(4*page.MinBytes))
	buf := make([]byte, 1<<11)
	must(t, page.Write(s, buf, page.Header{Exp: 11, Type: page.TypeData, Addr: 0}, []byte("x")))
	if _, p, err := page.Read(s, 0); err != nil || string(p) != "x" {
		t.Fatalf("read back %q, %v", p, err)
	}
	// The same page claimed at the last sector runs past the end.
	must(t, s.WriteAt(buf[:page.HeaderSize], 3*page.MinBytes))
	for _, addr := range []int64{-page.MinBytes, 1, 3 * page.MinBytes, 4 * page.MinBytes, 1 << 40} {
		if _, _, err := page.Read(s, addr); !isCorrupt(err) {
			t.Errorf("Read(%d): %v", addr, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	buf := make([]byte, page.MinBytes)
	_ = page.Encode(buf, page.Header{Exp: page.MinExp, Type: page.TypeJournal, Addr: 0, Seq: 7}, []byte("entry"))
	f.Add(buf, int64(0))
	f.Add(make([]byte, page.MinBytes), int64(0))
	f.Add([]byte{}, int64(512))
	f.Fuzz(func(t *testing.T, b []byte, addr int64) {
		h, p, err := page.Decode(b, addr)
		if err != nil {
			if !isCorrupt(err) {
				t.Fatalf("not a *CorruptError: %v", err)
			}
			return
		}
		// A page that decodes re-encodes to the same bytes.
		again := make([]byte, h.Bytes())
		if err := page.Encode(again, h, p); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("re-encoding a decoded page: %v", err)
		}
	})
}

func TestMisplaced(t *testing.T) {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	must(t, s.Grow(4*page.MinBytes))
	buf := make([]byte, page.MinBytes)
	must(t, page.Write(s, buf, page.Header{Exp: page.MinExp, Type: page.TypeData, Addr: 0}, []byte("here")))
	if _, ok := page.Misplaced(s, 0); ok {
		t.Fatal("a page at its own address reads as misplaced")
	}
	if _, ok := page.Misplaced(s, page.MinBytes); ok {
		t.Fatal("zeros read as a misplaced page")
	}
	must(t, s.WriteAt(bytes.Clone(s.Bytes(0, page.MinBytes)), 2*page.MinBytes))
	if own, ok := page.Misplaced(s, 2*page.MinBytes); !ok || own != 0 {
		t.Fatalf("a copy of page 0 at %d: Misplaced says %d, %v", 2*page.MinBytes, own, ok)
	}
	must(t, s.WriteAt([]byte{1}, 2*page.MinBytes+page.HeaderSize+1)) // and now torn
	if _, ok := page.Misplaced(s, 2*page.MinBytes); ok {
		t.Fatal("a copy that fails its checksum reads as misplaced")
	}
}

// TestReadPayloadChecksWhatItReturns flips each bit of a data page
// written in a storage: ReadPayload reports every flip in the header or
// the payload as a *CorruptError, and for a flip in the zero bytes after
// the payload, which it leaves unread, returns the payload as written,
// while ReadPtr, Check's way, reports that one too.
func TestReadPayloadChecksWhatItReturns(t *testing.T) {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	h := page.Header{Exp: page.MinExp, Type: page.TypeData, Addr: 8 * page.MinBytes, Seq: 42}
	must(t, s.Grow(h.Addr+int64(h.Bytes())))
	payload := []byte("some record")
	buf := make([]byte, h.Bytes())
	ptr, err := page.WritePtr(s, buf, h, payload)
	must(t, err)
	used := page.HeaderSize + len(payload)
	for bit := range len(buf) * 8 {
		b := bytes.Clone(buf)
		b[bit/8] ^= 1 << (bit % 8)
		must(t, s.WriteAt(b, h.Addr))
		_, p, err := page.ReadPayload(s, ptr)
		switch {
		case bit/8 < used && !isCorrupt(err):
			t.Fatalf("bit %d of the header or payload flipped: ReadPayload gives %q, %v", bit, p, err)
		case bit/8 >= used && (err != nil || !bytes.Equal(p, payload)):
			t.Fatalf("bit %d after the payload flipped: ReadPayload gives %q, %v; want the payload", bit, p, err)
		}
		if _, _, err := page.ReadPtr(s, ptr); !isCorrupt(err) {
			t.Fatalf("bit %d flipped: ReadPtr gives %v", bit, err)
		}
	}
}
