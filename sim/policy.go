package sim

import (
	"slices"

	"github.com/gopersy/persy/sim/diskmodel"
)

// policy decides a crash image as a whole: whether an unsynced creation
// and the newest size survive, whether every unsynced page is lost or
// persisted, and, where the profile allows them, garbage in a never
// written extension and one media fault.
type policy struct {
	created, newSize bool
	pages            int // diskmodel.PageLost or PagePersisted
	extendGarbage    bool
	flipBit          bool // flip one bit in the middle of the file
	misdirect        bool // the last page's write lands on the first
	lostWrite        bool // a page a barrier changed keeps its older version: the last such page
	lostFirst        bool // with lostWrite: the first such page instead, the root page when a root copy changed
}

func (p policy) Choose(label string, n int) int {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	switch label {
	case diskmodel.LabelCreated:
		return b(p.created)
	case diskmodel.LabelSize:
		return b(p.newSize) * (n - 1)
	case diskmodel.LabelPage:
		return p.pages
	case diskmodel.LabelExtendGarbage:
		return b(p.extendGarbage)
	case diskmodel.LabelBitFlip:
		return b(p.flipBit)
	case diskmodel.LabelFlipBit:
		return n / 2
	case diskmodel.LabelMisdirect:
		return b(p.misdirect)
	case diskmodel.LabelMisdirectFrom:
		return n - 1
	case diskmodel.LabelLostWrite:
		return b(p.lostWrite)
	case diskmodel.LabelLostPage:
		if p.lostFirst {
			return 0
		}
		return n - 1
	}
	return 0
}

// policies lists the whole-image policies for a profile: every
// combination of creation, size and pages lost or persisted (the old size
// with pages written back is a state Linux produces), then the profile's
// garbage and media faults on top of the likeliest combinations.
// Combinations a crash point does not ask about come out as the same
// image and are checked once.
func policies(p diskmodel.Profile) []diskmodel.Chooser {
	var out []diskmodel.Chooser
	for _, created := range []bool{false, true} {
		for _, newSize := range []bool{false, true} {
			for _, pages := range []int{diskmodel.PageLost, diskmodel.PagePersisted} {
				out = append(out, policy{created: created, newSize: newSize, pages: pages})
			}
		}
	}
	all := policy{created: true, newSize: true, pages: diskmodel.PagePersisted}
	sizeOnly := policy{created: true, newSize: true, pages: diskmodel.PageLost}
	if p.GarbageOnExtend {
		for _, q := range []policy{all, sizeOnly} {
			q.extendGarbage = true
			out = append(out, q)
		}
	}
	if p.Media {
		// A lost write of the last page a barrier changed (a journal or
		// data page as a rule), and of the first (the root page, whose
		// newest root copy a lost write takes back, leaving the root
		// state before it to meet the journal written since).
		for _, q := range []policy{all, {created: true}} {
			flip, mis, lost, lostRoot := q, q, q, q
			flip.flipBit, mis.misdirect, lost.lostWrite = true, true, true
			lostRoot.lostWrite, lostRoot.lostFirst = true, true
			out = append(out, flip, mis, lost, lostRoot)
		}
	}
	return out
}

// pageShape is what a crash image may do to the pages holding unsynced
// writes: how many units of each have a choice.
type pageShape struct {
	units []int // per page, in the order CrashImage asks
	// lost is, per page, its index among the pages a lost write may
	// hit (LabelLostPage), -1 if it has none to lose.
	lost []int
}

// shapeOf learns the pages and units the next images at x's current yield
// will ask about, by taking one image with every page mixed.
func shapeOf(x *execution, buf []byte) (pageShape, []byte, error) {
	var s pageShape
	img, err := x.disk.CrashImage(diskmodel.Func(func(label string, n int) int {
		switch label {
		case diskmodel.LabelCreated, diskmodel.LabelSize:
			return n - 1
		case diskmodel.LabelPage:
			s.units = append(s.units, 0)
			return diskmodel.PageMixed
		case diskmodel.LabelUnit:
			s.units[len(s.units)-1]++
		}
		return 0
	}), buf)
	if err != nil {
		return s, buf, err
	}
	stale := x.disk.Stale()
	for _, off := range x.disk.Unsynced() {
		k, ok := slices.BinarySearch(stale, off)
		if !ok {
			k = -1
		}
		s.lost = append(s.lost, k)
	}
	return s, img.Data, nil
}

// sweep decides an image in which one page (the target-th asked about) is
// lost, persisted or torn, and every other page is lost or persisted.
type sweep struct {
	target int
	mode   int // diskmodel.PageLost, PagePersisted or PageMixed
	others int // diskmodel.PageLost or PagePersisted
	// For a torn target: units [newFrom, newTo) take their newest
	// version, the others keep their durable one.
	newFrom, newTo int
	garbage        bool // the profile offers garbage as a unit's last choice
	// garbageUnit, if garbage, is the unit of the target that holds
	// garbage; -1 for none.
	garbageUnit int
	// lost, if not -1, is the target's index among the pages a lost
	// write may hit: the target also loses the write its last barrier
	// changed.
	lost int

	page, unit int
}

func (c *sweep) Choose(label string, n int) int {
	switch label {
	case diskmodel.LabelCreated, diskmodel.LabelSize:
		return n - 1
	case diskmodel.LabelLostWrite:
		if c.lost >= 0 {
			return 1
		}
		return 0
	case diskmodel.LabelLostPage:
		return c.lost
	case diskmodel.LabelPage:
		c.page++
		c.unit = 0
		if c.page-1 == c.target {
			return c.mode
		}
		return c.others
	case diskmodel.LabelUnit:
		u := c.unit
		c.unit++
		if c.garbage && u == c.garbageUnit && c.page-1 == c.target {
			return n - 1
		}
		if u >= c.newFrom && u < c.newTo {
			if c.garbage {
				return n - 2
			}
			return n - 1
		}
	}
	return 0
}

// sweeps lists the images of the Sweep strategy for a yield whose unsynced
// pages have the given shape: for each page, alone lost, alone persisted,
// and torn at every unit boundary (the units before it new and the rest
// old, and the reverse) with the other pages lost and with them
// persisted; where the profile tears to garbage, also each unit of the
// page alone garbage, the rest of the page old and new; where it has
// media faults, also each page that a barrier changed before alone
// persisted and alone lost, the rest lost, with the write that barrier
// changed lost too: a device that dropped a page's acknowledged write,
// met by the write that reuses the page.
func sweeps(s pageShape, p diskmodel.Profile) []diskmodel.Chooser {
	var out []diskmodel.Chooser
	for i, units := range s.units {
		out = append(out,
			&sweep{target: i, mode: diskmodel.PagePersisted, others: diskmodel.PageLost, garbageUnit: -1, lost: -1},
			&sweep{target: i, mode: diskmodel.PageLost, others: diskmodel.PagePersisted, garbageUnit: -1, lost: -1})
		for b := 1; b < units; b++ {
			for _, others := range []int{diskmodel.PageLost, diskmodel.PagePersisted} {
				out = append(out,
					&sweep{target: i, mode: diskmodel.PageMixed, others: others, newFrom: 0, newTo: b, garbage: p.GarbageTorn, garbageUnit: -1, lost: -1},
					&sweep{target: i, mode: diskmodel.PageMixed, others: others, newFrom: b, newTo: units, garbage: p.GarbageTorn, garbageUnit: -1, lost: -1})
			}
		}
		if p.GarbageTorn {
			for u := range units {
				out = append(out,
					&sweep{target: i, mode: diskmodel.PageMixed, others: diskmodel.PageLost, garbage: true, garbageUnit: u, lost: -1},
					&sweep{target: i, mode: diskmodel.PageMixed, others: diskmodel.PageLost, newFrom: 0, newTo: units, garbage: true, garbageUnit: u, lost: -1})
			}
		}
		if p.Media && i < len(s.lost) && s.lost[i] >= 0 {
			out = append(out,
				&sweep{target: i, mode: diskmodel.PagePersisted, others: diskmodel.PageLost, garbageUnit: -1, lost: s.lost[i]},
				&sweep{target: i, mode: diskmodel.PageLost, others: diskmodel.PageLost, garbageUnit: -1, lost: s.lost[i]})
		}
	}
	return out
}
