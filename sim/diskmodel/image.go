package diskmodel

import (
	"math/rand/v2"
	"slices"

	"github.com/gopersy/persy/mmapfile"
)

// Image is what a crash leaves: the file's durable bytes, or no file.
type Image struct {
	Exists bool
	Data   []byte
}

// What a crash does to one page holding unsynced units.
const (
	pageLost      = iota // every unit keeps its durable version
	pagePersisted        // every unit reaches its newest version
	pageMixed            // each unit independently: any version, torn, garbage
	pageChoices
)

// CrashImage materializes one state a crash now could leave, taking every
// decision from ch, into buf when it is large enough. It does not change
// the disk: many images may be taken at one yield point. It returns a
// *BypassError, with no image, if a store bypassed WriteAt.
//
// The decisions, in order: whether an unsynced creation survives; which
// size since the last Sync is durable; then for each page with unsynced
// units, in page order, lost, persisted or mixed, and when mixed a version
// per unit; then the profile's extension garbage and media faults.
func (d *Disk) CrashImage(ch Chooser, buf []byte) (*Image, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.checkBypassLocked(); err != nil {
		return nil, err
	}
	d.c.Images++
	if !d.created && ch.Choose("created", 2) == 0 {
		return &Image{}, nil
	}
	size := d.dSize
	if len(d.sizes) > 0 {
		sizes := append([]int64{d.dSize}, d.sizes...)
		size = sizes[ch.Choose("size", len(sizes))]
	}
	data := grow(buf, int(size))
	copy(data, d.durable[:size])
	if !d.sorted {
		slices.Sort(d.dirty)
		d.sorted = true
	}
	p := d.o.Profile
	unitsPerPage := mmapfile.PageBytes / d.unit
	var garbage *rand.Rand
	garbageFill := func(b []byte) {
		if garbage == nil {
			seed := uint64(ch.Choose("garbageSeed", 1<<16))
			garbage = rand.New(rand.NewPCG(seed, 1))
		}
		for i := range b {
			b[i] = byte(garbage.Uint32())
		}
	}
	for i := 0; i < len(d.dirty); {
		page := d.dirty[i] / unitsPerPage
		j := i
		for j < len(d.dirty) && d.dirty[j]/unitsPerPage == page {
			j++
		}
		units := d.dirty[i:j]
		i = j
		if int64(units[0]*d.unit) >= size {
			break // beyond the durable size: gone whatever was written
		}
		mode := ch.Choose("page", pageChoices)
		for _, u := range units {
			lo := int64(u * d.unit)
			if lo >= size {
				break
			}
			dst := data[lo:min(lo+int64(d.unit), size)]
			h := d.hist[u]
			v := 0
			switch mode {
			case pagePersisted:
				v = len(h)
			case pageMixed:
				n := len(h) + 1
				if p.GarbageTorn {
					n++
				}
				v = ch.Choose("unit", n)
			}
			switch {
			case v == 0: // durable version, already copied
			case v <= len(h):
				copy(dst, h[v-1])
			default:
				garbageFill(dst)
			}
		}
	}
	if p.GarbageOnExtend && size > d.dSize && ch.Choose("extendGarbage", 2) == 1 {
		// The extension's units that were never written back hold garbage.
		for u := int(d.dSize) / d.unit; int64(u*d.unit) < size; u++ {
			lo := int64(u * d.unit)
			if lo < d.dSize {
				continue
			}
			dst := data[lo:min(lo+int64(d.unit), size)]
			if allZero(dst) {
				garbageFill(dst)
			}
		}
	}
	if p.Media && size > 0 {
		d.mediaFaults(ch, data)
	}
	return &Image{Exists: true, Data: data}, nil
}

// mediaFaults applies at most one flipped bit and one misdirected page
// write, both of which a checksum must detect.
func (d *Disk) mediaFaults(ch Chooser, data []byte) {
	pages := (len(data) + mmapfile.PageBytes - 1) / mmapfile.PageBytes
	if ch.Choose("bitFlip", 2) == 1 {
		bit := ch.Choose("flipBit", len(data)*8)
		data[bit/8] ^= 1 << (bit % 8)
	}
	if pages > 1 && ch.Choose("misdirect", 2) == 1 {
		// The write meant for page from lands on page to; from keeps what
		// it held.
		from := ch.Choose("misdirectFrom", pages)
		to := ch.Choose("misdirectTo", pages-1)
		if to >= from {
			to++
		}
		src := d.shadow[from*mmapfile.PageBytes : (from+1)*mmapfile.PageBytes]
		dst := data[to*mmapfile.PageBytes : min((to+1)*mmapfile.PageBytes, len(data))]
		copy(dst, src)
	}
}

func grow(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]byte, n)
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}
