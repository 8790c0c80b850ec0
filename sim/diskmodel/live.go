package diskmodel

import "github.com/gopersy/persy/mmapfile"

// live holds the bytes the engine sees, in generations of doubling
// capacity, each covering the file from byte 0. A view comes from the
// newest generation; growing past it allocates a larger one, and every
// write is copied into every generation it falls in, so a view taken
// before a grow keeps following writes, as the Storage contract asks.
// Simulated files are small and short-lived: a file of n bytes costs
// about 2n bytes and a write about log2(n/PageBytes) copies, and a crash
// state's reboot allocates only what its image needs.
type live struct {
	gens [][]byte // oldest first
}

// grow makes the newest generation hold at least size bytes.
func (l *live) grow(size int64) {
	var cur []byte
	if len(l.gens) > 0 {
		cur = l.gens[len(l.gens)-1]
	}
	if size <= int64(len(cur)) {
		return
	}
	n := max(roundUp(size, mmapfile.PageBytes), 2*int64(len(cur)))
	g := make([]byte, n)
	copy(g, cur)
	l.gens = append(l.gens, g)
}

// view returns bytes [off, off+n) of the newest generation; the caller
// has checked the range.
func (l *live) view(off int64, n int) []byte {
	if n == 0 {
		return []byte{}
	}
	g := l.gens[len(l.gens)-1]
	return g[off : off+int64(n) : off+int64(n)]
}

// write copies p to off in every generation that holds off.
func (l *live) write(p []byte, off int64) {
	for _, g := range l.gens {
		if off < int64(len(g)) {
			copy(g[off:], p)
		}
	}
}

// diffRange returns the first byte of [off, off+n) where a generation
// differs from want, or -1.
func (l *live) diffRange(want *pages, off, n int64) int64 {
	for _, g := range l.gens {
		hi := min(int64(len(g)), off+n, want.len())
		if off >= hi {
			continue
		}
		if i := want.diff(g, off, hi); i >= 0 {
			return i
		}
	}
	return -1
}
