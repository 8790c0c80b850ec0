package txn

import (
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
)

// ckptHold counts, from the last checkpoint on, an upper bound of what
// the next checkpoint allocates and frees, so that every commit can keep
// room for it: a commit that would leave the file without room to
// checkpoint the journal fails with no room instead (and the leader
// checkpoints and tries again). So on a full disk the journal can always
// be checkpointed and its pages, and those deletes gave back, freed: a
// journal of commits that no checkpoint could write would hold the file
// full for good. reserveCheckpoint counts exactly; this counts as commits
// go, cheaply, and, class by class, never less
// (TestCheckpointRoomBoundsTheCheckpoint).
type ckptHold struct {
	data     page.Need // the data pages of the records put
	addr     int       // the address pages changed
	frees    page.Need // pages it may free: superseded, retained, replaced and dropped
	retained int       // pages its catalogue may list as retained
}

// note counts what one commit's effects add, before noteEffects marks
// its pages dirty. The caller holds wmu.
func (h *ckptHold) note(fx effects, dirty map[pageKey]bool, disk map[uint64][]page.Ptr) {
	h.data = h.data.Plus(fx.data)
	for _, r := range fx.superseded {
		h.frees.Add(r.Exp, 1)
		h.retained++
	}
	for _, r := range fx.packsLeft { // each may be emptied
		h.frees.Add(r.Exp, 1)
		h.retained++
	}
	for _, k := range fx.dirty {
		if dirty[k] {
			continue
		}
		h.addr++ // twice for a page two requests of a batch change: an upper bound
		if pages := disk[k.seg]; k.page < uint64(len(pages)) && pages[k.page] != (page.Ptr{}) {
			h.frees.Add(pages[k.page].Exp, 1)
			h.retained++ // if a pin holds a version that reads it
		}
	}
	for _, id := range fx.dropped {
		for _, r := range disk[id] {
			h.frees.Add(r.Exp, 1)
			h.retained++
		}
	}
}

// resetHold starts the count over after a checkpoint, or at open, from
// the pages still retained. The caller holds wmu.
func (db *DB) resetHold() {
	db.hold = ckptHold{retained: len(db.retained)}
	for _, r := range db.retained {
		db.hold.frees.Add(r.ref.Exp, 1)
	}
}

// checkpointRoom returns what the checkpoint of v allocates, at most,
// once the commits whose effects extra lists are journaled too: their
// pages, the catalogue's, and the free-list chunks that list what it
// frees, the journal's pages among them. The caller holds wmu.
func (db *DB) checkpointRoom(v *version, extra []effects) page.Need {
	h := db.hold
	for _, fx := range extra {
		h.note(fx, db.dirty, db.disk)
	}
	n := h.data
	n.Add(segment.AddressExp, h.addr)
	var names, pages int
	for _, s := range v.segs {
		names += len(s.name)
		pages += max(len(db.disk[s.id]), len(s.pages))
	}
	// The catalogue counted is larger than the one written (retained
	// counts every page superseded), and a smaller catalogue may end in
	// a page of a smaller class: one more page of each class below the
	// largest counted covers it.
	cat := segment.CatalogNeedFor(len(v.segs), names, pages, h.retained)
	top := len(cat) - 1
	for top > 0 && cat[top] == 0 {
		top--
	}
	for c := range top {
		cat[c]++
	}
	n = n.Plus(cat)
	frees := h.frees
	for _, r := range db.catPages {
		frees.Add(r.Exp, 1)
	}
	frees.Add(journal.PageExp, db.jw.Pages())
	return n.Plus(db.alloc.CommitNeedFreeing(n, frees))
}
