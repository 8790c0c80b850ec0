package mmapfile

// regions lays a byte space out in fixed regions that never move. Region i
// holds the bytes [i*regionBytes, i*regionBytes + regionBytes + MaxViewBytes):
// each overlaps the next by MaxViewBytes, so any view of at most
// MaxViewBytes is contiguous inside the region its first byte falls in.
// A write is copied into every region that holds its bytes. For a file the
// regions are shared mappings of the same pages and the copies are one; for
// memory they are separate buffers kept equal by the writes.
type regions struct {
	regionBytes int64
	mapped      [][]byte // each of length regionBytes + MaxViewBytes
	shared      bool     // regions alias one another (file mappings): write once
}

// count returns how many regions a space of size bytes needs.
func (r *regions) count(size int64) int {
	if size <= 0 {
		return 0
	}
	return int((size + r.regionBytes - 1) / r.regionBytes)
}

// view returns the n bytes at off, capacity-limited so an append cannot
// reach bytes beyond them.
func (r *regions) view(off int64, n int) []byte {
	return viewOf(r.mapped, r.regionBytes, off, n)
}

// viewOf is view over the regions mapped, of regionBytes each.
func viewOf(mapped [][]byte, regionBytes, off int64, n int) []byte {
	if n == 0 {
		return []byte{}
	}
	i := off / regionBytes
	start := off - i*regionBytes
	return mapped[i][start : start+int64(n) : start+int64(n)]
}

// write copies p to off in every region holding those bytes.
func (r *regions) write(p []byte, off int64) {
	end := off + int64(len(p))
	if r.shared {
		// The mappings alias the same file pages: one copy through the
		// region holding each piece's start is enough.
		for pos := off; pos < end; {
			i := pos / r.regionBytes
			pos += int64(copy(r.mapped[i][pos-i*r.regionBytes:], p[pos-off:]))
		}
		return
	}
	first := int64(0)
	if reach := r.regionBytes + MaxViewBytes; off >= reach {
		first = (off-reach)/r.regionBytes + 1
	}
	for i := first; i < int64(len(r.mapped)) && i*r.regionBytes < end; i++ {
		base := i * r.regionBytes
		lo, hi := max(off, base), min(end, base+int64(len(r.mapped[i])))
		if lo < hi {
			copy(r.mapped[i][lo-base:hi-base], p[lo-off:hi-off])
		}
	}
}
