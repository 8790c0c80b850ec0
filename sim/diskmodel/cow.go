package diskmodel

import (
	"bytes"

	"github.com/gopersy/persy/mmapfile"
)

// pages holds a file's bytes, OS page by OS page, each either shared, a
// page of a base no disk writes (the crash image several disks boot on,
// or the zero page a grow adds), or the disk's own, copied at its first
// change. Booting a disk on an image then costs no copy of the durable
// and shadow bytes, only of the pages the engine changes: exploring boots
// several disks per crash state, and those copies, into fresh memory,
// were most of its time.
type pages struct {
	p   [][]byte // each PageBytes long
	own []bool   // per page: p[i] is the disk's, not shared
}

// zeroPage is the shared content of every page a grow adds.
var zeroPage = make([]byte, mmapfile.PageBytes)

// sharedPages returns pages reading base, whose length is a multiple of
// PageBytes; base must not change while they are used.
func sharedPages(base []byte) pages {
	n := len(base) / mmapfile.PageBytes
	ps := pages{p: make([][]byte, n), own: make([]bool, n)}
	for i := range ps.p {
		ps.p[i] = base[i*mmapfile.PageBytes : (i+1)*mmapfile.PageBytes : (i+1)*mmapfile.PageBytes]
	}
	return ps
}

// len returns the bytes held.
func (ps *pages) len() int64 { return int64(len(ps.p)) * mmapfile.PageBytes }

// grow extends ps with zero pages to hold whole bytes, a multiple of
// PageBytes.
func (ps *pages) grow(whole int64) {
	for ps.len() < whole {
		ps.p = append(ps.p, zeroPage)
		ps.own = append(ps.own, false)
	}
}

// mut returns page i for writing, copying it first if it is shared.
func (ps *pages) mut(i int) []byte {
	if !ps.own[i] {
		ps.p[i] = append(make([]byte, 0, mmapfile.PageBytes), ps.p[i]...)
		ps.own[i] = true
	}
	return ps.p[i]
}

// unit returns the n bytes at off, which lie in one page, for reading.
func (ps *pages) unit(off int64, n int) []byte {
	i, o := int(off/mmapfile.PageBytes), int(off%mmapfile.PageBytes)
	return ps.p[i][o : o+n]
}

// setUnit copies b, which lies in one page, to off.
func (ps *pages) setUnit(b []byte, off int64) {
	i, o := int(off/mmapfile.PageBytes), int(off%mmapfile.PageBytes)
	if !ps.own[i] && bytes.Equal(ps.p[i][o:o+len(b)], b) {
		return // a shared page that keeps its content stays shared
	}
	copy(ps.mut(i)[o:], b)
}

// write copies b to off.
func (ps *pages) write(b []byte, off int64) {
	for len(b) > 0 {
		o := int(off % mmapfile.PageBytes)
		n := min(len(b), mmapfile.PageBytes-o)
		ps.setUnit(b[:n], off)
		b, off = b[n:], off+int64(n)
	}
}

// read copies the bytes at off into dst.
func (ps *pages) read(dst []byte, off int64) {
	for len(dst) > 0 {
		o := int(off % mmapfile.PageBytes)
		n := copy(dst, ps.p[off/mmapfile.PageBytes][o:])
		dst, off = dst[n:], off+int64(n)
	}
}

// diff returns the first byte of g[off:hi] that differs from ps, or -1.
func (ps *pages) diff(g []byte, off, hi int64) int64 {
	for off < hi {
		o := off % mmapfile.PageBytes
		end := min(hi, off-o+mmapfile.PageBytes)
		want := ps.p[off/mmapfile.PageBytes][o : o+end-off]
		if !bytes.Equal(g[off:end], want) {
			for i := range want {
				if g[off+int64(i)] != want[i] {
					return off + int64(i)
				}
			}
		}
		off = end
	}
	return -1
}
