package diskmodel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/gopersy/persy/mmapfile"
)

// Image is what a crash leaves: the file's durable bytes, or no file.
type Image struct {
	Exists bool
	Data   []byte
}

// The labels of the decisions CrashImage asks its Chooser, in the order it
// asks them. Exploration policies recognise decisions by label.
const (
	LabelCreated       = "created"       // 2: the unsynced creation is lost (0) or durable (1)
	LabelSize          = "size"          // sizes since the last Sync, oldest (the durable one) first
	LabelPage          = "page"          // per page with unsynced units: PageLost, PagePersisted, PageMixed
	LabelUnit          = "unit"          // per unit of a mixed page: 0 durable, i the i-th version since, then garbage if the profile tears to garbage
	LabelGarbageSeed   = "garbageSeed"   // the seed of the garbage a torn unit or an extension holds
	LabelExtendGarbage = "extendGarbage" // 2: a durable extension never written back reads as zeros (0) or garbage (1)
	LabelBitFlip       = "bitFlip"       // media: 2: no flipped bit (0) or one (1)
	LabelFlipBit       = "flipBit"       // media: which bit flips
	LabelMisdirect     = "misdirect"     // media, with no bit flipped: 2: no misdirected page write (0) or one (1)
	LabelMisdirectFrom = "misdirectFrom" // media: the page whose write went astray, among those with unsynced writes
	LabelMisdirectTo   = "misdirectTo"   // media: where it landed, skipping from
	LabelLostWrite     = "lostWrite"     // media, with no bit flipped and no write misdirected: 2: no lost write (0) or one (1)
	LabelLostPage      = "lostPage"      // media: the page that loses what its last changing barrier wrote, among those with one
)

// IsMediaFault reports whether a decision labelled label, answered 1,
// puts a media fault in an image: a flipped bit, a misdirected or a lost
// write.
func IsMediaFault(label string) bool {
	return label == LabelBitFlip || label == LabelMisdirect || label == LabelLostWrite
}

// What a crash does to one page holding unsynced units: the values of a
// LabelPage decision.
const (
	PageLost      = iota // every unit keeps its durable version
	PagePersisted        // every unit reaches its newest version
	PageMixed            // each unit independently: any version, torn, garbage
	PageChoices          // the number of page modes
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
	return d.crashImageLocked(ch, buf, true)
}

// A Narrator is a Chooser that CrashImage also tells, in words, what it
// made of each decision: which pages a crash lost, persisted or tore,
// which version each sector of a torn page holds, and the media fault.
// Replay prints it under the trace.
type Narrator interface {
	Chooser
	Narrate(line string)
}

// crashImageLocked is CrashImage, under d.mu, with the profile's media
// faults only if media is set.
func (d *Disk) crashImageLocked(ch Chooser, buf []byte, media bool) (*Image, error) {
	say := func(string, ...any) {}
	n, narrate := ch.(Narrator)
	if narrate {
		say = func(format string, a ...any) { n.Narrate(fmt.Sprintf(format, a...)) }
	}
	ch = clamped{ch}
	if err := d.checkBypassLocked(); err != nil {
		return nil, err
	}
	d.c.Images++
	if !d.created && ch.Choose(LabelCreated, 2) == 0 {
		say("the file's creation was never synced and is lost: no file")
		return &Image{}, nil
	}
	size := d.dSize
	if len(d.sizes) > 0 {
		sizes := append([]int64{d.dSize}, d.sizes...)
		size = sizes[ch.Choose(LabelSize, len(sizes))]
		say("size %d bytes, of the sizes %v since the last Sync", size, sizes)
	}
	data := grow(buf, int(size))
	d.durable.read(data, 0)
	if !d.sorted {
		slices.Sort(d.dirty)
		d.sorted = true
	}
	p := d.o.Profile
	unitsPerPage := mmapfile.PageBytes / d.unit
	var garbage *rand.Rand
	garbageFill := func(b []byte) {
		if garbage == nil {
			seed := uint64(ch.Choose(LabelGarbageSeed, 1<<16))
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
		mode := ch.Choose(LabelPage, PageChoices)
		var torn []string
		for _, u := range units {
			lo := int64(u * d.unit)
			if lo >= size {
				break
			}
			dst := data[lo:min(lo+int64(d.unit), size)]
			h := d.hist[u]
			v := 0
			switch mode {
			case PagePersisted:
				v = len(h)
			case PageMixed:
				n := len(h) + 1
				if p.GarbageTorn {
					n++
				}
				v = ch.Choose(LabelUnit, n)
			}
			if v > 0 {
				d.took[u] = true
			}
			switch {
			case v == 0: // durable version, already copied
			case v <= len(h):
				copy(dst, h[v-1])
			default:
				garbageFill(dst)
			}
			if narrate && mode == PageMixed {
				what := fmt.Sprintf("version %d of %d", v, len(h))
				switch {
				case v == 0:
					what = "durable"
				case v > len(h):
					what = "garbage"
				}
				torn = append(torn, fmt.Sprintf("%d %s", lo, what))
			}
		}
		switch off := int64(page) * mmapfile.PageBytes; {
		case !narrate:
		case mode == PageLost:
			say("page %d: lost, %d sectors keep their durable version", off, len(units))
		case mode == PagePersisted:
			say("page %d: persisted, %d sectors at their newest version", off, len(units))
		default:
			say("page %d: torn, by sector: %s", off, strings.Join(torn, ", "))
		}
	}
	if p.GarbageOnExtend && size > d.dSize && ch.Choose(LabelExtendGarbage, 2) == 1 {
		say("the extension past %d bytes holds garbage where nothing reached the disk", d.dSize)
		// The extension's bytes in units no version of which reached the
		// disk, before or in this image, hold garbage.
		for u := int(d.dSize) / d.unit; int64(u*d.unit) < size; u++ {
			if d.backed[u] || d.took[u] {
				continue
			}
			garbageFill(data[max(int64(u*d.unit), d.dSize):min(int64(u+1)*int64(d.unit), size)])
		}
	}
	for _, u := range d.dirty {
		d.took[u] = false
	}
	if media && p.Media && size > 0 {
		d.mediaFaults(ch, data, say)
	}
	return &Image{Exists: true, Data: data}, nil
}

// mediaFaults applies at most one media fault: a flipped bit, a
// misdirected page write or a lost one, which the engine must detect. A misdirected
// write is the write-back of a page with unsynced writes, its latest
// content, landing on another page while its own keeps what it held: a
// page nothing wrote since its last barrier is never written back, so its
// content never goes astray (the model of the crash test bed notes,
// after TigerBeetle's). One per crash is
// the fault model persy-go claims to detect: with one copy of everything,
// two faults can together erase every trace of the newest state (a flip
// in the newest root copy, which then reads as torn, and a misdirected
// write over the journal pages written since the copy before), and no
// single-copy format can tell the older state it leaves from a crash.
func (d *Disk) mediaFaults(ch Chooser, data []byte, say func(string, ...any)) {
	pages := (len(data) + mmapfile.PageBytes - 1) / mmapfile.PageBytes
	if ch.Choose(LabelBitFlip, 2) == 1 {
		bit := ch.Choose(LabelFlipBit, len(data)*8)
		data[bit/8] ^= 1 << (bit % 8)
		say("media: bit %d of byte %d flipped", bit%8, bit/8)
		return
	}
	unitsPerPage := mmapfile.PageBytes / d.unit
	var dirty []int // pages with unsynced writes, in order (d.dirty is sorted)
	for _, u := range d.dirty {
		if p := u / unitsPerPage; p < pages && (len(dirty) == 0 || dirty[len(dirty)-1] != p) {
			dirty = append(dirty, p)
		}
	}
	if pages > 1 && len(dirty) > 0 && ch.Choose(LabelMisdirect, 2) == 1 {
		// The write meant for page from lands on page to; from keeps what
		// it held.
		from := dirty[ch.Choose(LabelMisdirectFrom, len(dirty))]
		to := ch.Choose(LabelMisdirectTo, pages-1)
		if to >= from {
			to++
		}
		src := d.shadow.unit(int64(from)*mmapfile.PageBytes, mmapfile.PageBytes)
		dst := data[to*mmapfile.PageBytes : min((to+1)*mmapfile.PageBytes, len(data))]
		copy(dst, src)
		say("media: the write-back of page %d landed on page %d, and page %d kept what it held", from*mmapfile.PageBytes, to*mmapfile.PageBytes, from*mmapfile.PageBytes)
		return
	}
	// A lost write: a page keeps what it held before the last barrier
	// that changed it, although the barrier returned (a device that
	// acknowledged a write and dropped it). The page reads as a stale
	// version of itself, valid in every check that looks only at it.
	// Only the sectors that barrier changed go back: those earlier
	// barriers changed were other writes, which the device kept.
	var stale []int // pages with a unit a barrier changed, in order
	for u, old := range d.prior {
		if p := u / unitsPerPage; old != nil && p < pages && (len(stale) == 0 || stale[len(stale)-1] != p) {
			stale = append(stale, p)
		}
	}
	if len(stale) > 0 && ch.Choose(LabelLostWrite, 2) == 1 {
		p := stale[ch.Choose(LabelLostPage, len(stale))]
		last := uint64(0)
		for u := p * unitsPerPage; u < (p+1)*unitsPerPage; u++ {
			if d.prior[u] != nil {
				last = max(last, d.priorAt[u])
			}
		}
		for u := p * unitsPerPage; u < (p+1)*unitsPerPage; u++ {
			if old := d.prior[u]; old != nil && d.priorAt[u] == last && u*d.unit < len(data) {
				copy(data[u*d.unit:min((u+1)*d.unit, len(data))], old)
			}
		}
		say("media: page %d lost the write of barrier %d: it holds what it held before", p*mmapfile.PageBytes, last)
	}
}

func grow(buf []byte, n int) []byte {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]byte, n)
}

// clamped keeps a Chooser's answers in range, so a faulty Chooser cannot
// make an image index out of bounds.
type clamped struct{ ch Chooser }

func (c clamped) Choose(label string, n int) int {
	return min(max(c.ch.Choose(label, n), 0), max(n, 1)-1)
}
