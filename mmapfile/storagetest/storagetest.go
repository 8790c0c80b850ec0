// Package storagetest is the conformance suite every mmapfile.Storage
// passes: the real file, the in-memory storage and the simulated disk have
// the same live behaviour, checked here against a plain byte slice.
// Durability is not observable without a crash and is tested by the
// implementations themselves (the disk model's litmus properties, the
// real-kernel kill test).
package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"pgregory.net/rapid"
)

// Open returns a new, empty, open Storage. The suite closes it.
type Open func(t *testing.T) mmapfile.Storage

// Run runs the conformance suite against the storages open returns.
func Run(t *testing.T, open Open) {
	t.Run("Empty", func(t *testing.T) { testEmpty(t, open(t)) })
	t.Run("GrowReadsZero", func(t *testing.T) { testGrowReadsZero(t, open(t)) })
	t.Run("ViewsFollowWritesAcrossGrow", func(t *testing.T) { testViewsFollowWrites(t, open(t)) })
	t.Run("Bounds", func(t *testing.T) { testBounds(t, open(t)) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open(t)) })
	t.Run("Model", func(t *testing.T) {
		rapid.Check(t, func(rt *rapid.T) { testModel(rt, open(t)) })
	})
}

func testEmpty(t *testing.T, s mmapfile.Storage) {
	defer s.Close()
	if got := s.Size(); got != 0 {
		t.Fatalf("new storage has size %d, want 0", got)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync of an empty storage: %v", err)
	}
	if err := s.SyncRange(0, 0); err != nil {
		t.Fatalf("SyncRange(0,0) of an empty storage: %v", err)
	}
}

func testGrowReadsZero(t *testing.T, s mmapfile.Storage) {
	defer s.Close()
	const size = 3*mmapfile.MaxViewBytes + 12345
	must(t, s.Grow(size))
	if got := s.Size(); got != size {
		t.Fatalf("Size after Grow(%d) = %d", size, got)
	}
	for off := int64(0); off < size; off += mmapfile.MaxViewBytes {
		n := int(min(mmapfile.MaxViewBytes, size-off))
		if v := s.Bytes(off, n); !allZero(v) {
			t.Fatalf("grown bytes at %d are not zero", off)
		}
	}
	must(t, s.Grow(10)) // smaller: no-op
	if got := s.Size(); got != size {
		t.Fatalf("Grow to a smaller size changed Size to %d", got)
	}
}

func testViewsFollowWrites(t *testing.T, s mmapfile.Storage) {
	defer s.Close()
	must(t, s.Grow(mmapfile.PageBytes))
	view := s.Bytes(100, 8)
	must(t, s.WriteAt([]byte("abcdefgh"), 100))
	if string(view) != "abcdefgh" {
		t.Fatalf("view does not show a later write: %q", view)
	}
	// Growing far, across many regions, must not move the old view.
	must(t, s.Grow(5*mmapfile.MaxViewBytes))
	must(t, s.WriteAt([]byte("ABCDEFGH"), 100))
	if string(view) != "ABCDEFGH" {
		t.Fatalf("view taken before Grow does not show a write after it: %q", view)
	}
	// A view straddling every boundary near the end sees a write through it.
	end := s.Size()
	pattern := bytes.Repeat([]byte("0123456789"), mmapfile.MaxViewBytes/10)
	off := end - int64(len(pattern)) - 7
	must(t, s.WriteAt(pattern, off))
	if got := s.Bytes(off, len(pattern)); !bytes.Equal(got, pattern) {
		t.Fatalf("view of %d bytes at %d differs from what was written", len(pattern), off)
	}
	if c := cap(s.Bytes(0, 10)); c != 10 {
		t.Fatalf("view capacity %d, want 10: an append could write past the view", c)
	}
}

func testBounds(t *testing.T, s mmapfile.Storage) {
	defer s.Close()
	must(t, s.Grow(1000))
	for _, c := range []struct {
		off int64
		n   int
	}{{-1, 1}, {999, 2}, {1000, 1}, {2000, 0}} {
		if err := s.WriteAt(make([]byte, c.n), c.off); !errors.Is(err, mmapfile.ErrOutOfRange) {
			t.Errorf("WriteAt(%d bytes at %d) on size 1000 = %v, want ErrOutOfRange", c.n, c.off, err)
		}
		if err := s.SyncRange(c.off, int64(c.n)); !errors.Is(err, mmapfile.ErrOutOfRange) {
			t.Errorf("SyncRange(%d, %d) on size 1000 = %v, want ErrOutOfRange", c.off, c.n, err)
		}
		if !panics(func() { s.Bytes(c.off, c.n) }) {
			t.Errorf("Bytes(%d, %d) on size 1000 did not panic", c.off, c.n)
		}
	}
	must(t, s.Grow(2*mmapfile.MaxViewBytes))
	if !panics(func() { s.Bytes(0, mmapfile.MaxViewBytes+1) }) {
		t.Errorf("Bytes longer than MaxViewBytes did not panic")
	}
	// A refused write changes nothing.
	if !allZero(s.Bytes(990, 10)) {
		t.Errorf("a refused write changed bytes")
	}
}

func testClosed(t *testing.T, s mmapfile.Storage) {
	must(t, s.Grow(mmapfile.PageBytes))
	must(t, s.Close())
	must(t, s.Close()) // idempotent
	for name, err := range map[string]error{
		"WriteAt":   s.WriteAt([]byte{1}, 0),
		"Grow":      s.Grow(2 * mmapfile.PageBytes),
		"SyncRange": s.SyncRange(0, 1),
		"Sync":      s.Sync(),
	} {
		if !errors.Is(err, mmapfile.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

// testModel runs random operations against s and a byte slice, comparing
// every view with the model.
func testModel(t *rapid.T, s mmapfile.Storage) {
	defer s.Close()
	var model []byte
	const maxSize = 3*mmapfile.MaxViewBytes + mmapfile.PageBytes
	offset := func(label string, n int) int64 {
		// Offsets cluster near region and page boundaries, where bugs live.
		if len(model) < n {
			return 0
		}
		hi := len(model) - n
		if rapid.Bool().Draw(t, label+"Boundary") {
			unit := rapid.SampledFrom([]int{mmapfile.SectorBytes, mmapfile.PageBytes, 64 << 10, mmapfile.MaxViewBytes}).Draw(t, label+"Unit")
			k := rapid.IntRange(0, hi/unit).Draw(t, label+"K")
			d := rapid.IntRange(-3, 3).Draw(t, label+"D")
			return int64(min(max(k*unit+d, 0), hi))
		}
		return int64(rapid.IntRange(0, hi).Draw(t, label))
	}
	t.Repeat(map[string]func(*rapid.T){
		"Grow": func(t *rapid.T) {
			size := rapid.IntRange(0, maxSize).Draw(t, "size")
			if err := s.Grow(int64(size)); err != nil {
				t.Fatalf("Grow(%d): %v", size, err)
			}
			if size > len(model) {
				model = append(model, make([]byte, size-len(model))...)
			}
		},
		"WriteAt": func(t *rapid.T) {
			if len(model) == 0 {
				t.Skip("empty")
			}
			n := rapid.IntRange(0, min(len(model), 3*mmapfile.PageBytes)).Draw(t, "n")
			off := offset("off", n)
			fill := byte(rapid.IntRange(1, 255).Draw(t, "fill"))
			p := bytes.Repeat([]byte{fill}, n)
			for i := range p {
				p[i] += byte(i)
			}
			if err := s.WriteAt(p, off); err != nil {
				t.Fatalf("WriteAt(%d bytes at %d): %v", n, off, err)
			}
			copy(model[off:], p)
		},
		"SyncRange": func(t *rapid.T) {
			n := rapid.IntRange(0, len(model)).Draw(t, "n")
			off := offset("off", n)
			if err := s.SyncRange(off, int64(n)); err != nil {
				t.Fatalf("SyncRange(%d, %d): %v", off, n, err)
			}
		},
		"Sync": func(t *rapid.T) {
			if err := s.Sync(); err != nil {
				t.Fatalf("Sync: %v", err)
			}
		},
		"Bytes": func(t *rapid.T) {
			n := rapid.IntRange(0, min(len(model), mmapfile.MaxViewBytes)).Draw(t, "n")
			off := offset("off", n)
			if got, want := s.Bytes(off, n), model[off:off+int64(n)]; !bytes.Equal(got, want) {
				t.Fatalf("Bytes(%d, %d) differs from the model at %s", off, n, firstDiff(got, want))
			}
		},
		"": func(t *rapid.T) {
			if got := s.Size(); got != int64(len(model)) {
				t.Fatalf("Size = %d, model %d", got, len(model))
			}
		},
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}

func panics(fn func()) (did bool) {
	defer func() { did = recover() != nil }()
	fn()
	return false
}

func firstDiff(a, b []byte) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("%d (%#x != %#x)", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("len %d vs %d", len(a), len(b))
}
