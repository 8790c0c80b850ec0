package txn

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
)

// slotPage is one address page's slots in memory. A slotPage reachable
// from a published version never changes: apply copies it first.
type slotPage [segment.SlotsPerPage]segment.Slot

type segState struct {
	id    uint64
	name  string
	pages []*slotPage
}

func (s *segState) slot(n uint64) *segment.Slot {
	i := n / segment.SlotsPerPage
	if i >= uint64(len(s.pages)) {
		return nil
	}
	return &s.pages[i][n%segment.SlotsPerPage]
}

// version is the committed state at one point: every segment and its
// slots. It is immutable once published, so a snapshot is a pointer to it.
type version struct {
	seq  uint64      // commits applied
	segs []*segState // by name
}

func (v *version) find(name string) (int, bool) {
	return slices.BinarySearchFunc(v.segs, name, func(s *segState, n string) int { return strings.Compare(s.name, n) })
}

func (v *version) seg(name string) *segState {
	if i, ok := v.find(name); ok {
		return v.segs[i]
	}
	return nil
}

func (v *version) segByID(id uint64) (int, *segState) {
	for i, s := range v.segs {
		if s.id == id {
			return i, s
		}
	}
	return -1, nil
}

// maxPagesAhead bounds how far past a segment's last address page an
// insert may land: inserts take slots in order, so only a journal that
// was not written by persy-go goes further.
const maxPagesAhead = 1 << 16

// op is one change of a transaction, as journaled and applied.
type op struct {
	kind journal.Kind
	seg  uint64 // segment id
	slot uint64 // record slot, for record changes
	name string // segment name, for create and drop
	data []byte // record content, for insert and update
}

func (o op) entry(tx uint64) journal.Entry {
	e := journal.Entry{Kind: o.kind, Tx: tx, A: o.seg, B: o.slot, Data: o.data}
	if o.kind == journal.KindCreateSegment || o.kind == journal.KindDropSegment {
		e.Data = []byte(o.name)
	}
	return e
}

// opOf reads a journal entry back into an op; false for entries that are
// not changes.
func opOf(e journal.Entry) (op, bool) {
	o := op{kind: e.Kind, seg: e.A, slot: e.B}
	switch e.Kind {
	case journal.KindInsert, journal.KindUpdate:
		o.data = slices.Clone(e.Data)
		if o.data == nil {
			o.data = []byte{}
		}
	case journal.KindDelete:
	case journal.KindCreateSegment, journal.KindDropSegment:
		o.name = string(e.Data)
	default:
		return op{}, false
	}
	return o, true
}

type pageKey struct {
	seg  uint64
	page uint64
}

// effects is what applying changes did beyond the new version.
type effects struct {
	superseded   []page.Ref // data pages no slot of the new version reads
	dirty        []pageKey  // address pages changed
	created      []uint64   // segments created
	dropped      []uint64   // segments dropped
	freedSlots   []pageKey  // {segment, slot} emptied by deletes
	inserted     []pageKey  // {segment, slot} filled by inserts
	pendingBytes int
	data         page.Need // the data pages the records put take at a checkpoint
}

// apply returns v with ops applied as commit seq. It fails, changing
// nothing, if an op does not fit v: a journal that disagrees with the
// catalogue.
func apply(v *version, seq uint64, ops []op) (*version, effects, error) {
	nv := &version{seq: seq, segs: slices.Clone(v.segs)}
	var fx effects
	ownSeg := map[uint64]bool{}   // segments copied for nv
	ownPage := map[pageKey]bool{} // pages copied for nv
	mutSeg := func(id uint64) (*segState, error) {
		i, s := nv.segByID(id)
		if s == nil {
			return nil, fmt.Errorf("segment %d does not exist", id)
		}
		if !ownSeg[id] {
			c := *s
			c.pages = slices.Clone(s.pages)
			s = &c
			nv.segs[i] = s
			ownSeg[id] = true
		}
		return s, nil
	}
	mutSlot := func(s *segState, n uint64) (*segment.Slot, error) {
		pi := n / segment.SlotsPerPage
		if pi > uint64(len(s.pages))+maxPagesAhead {
			return nil, fmt.Errorf("record %d of segment %d: %d pages beyond the segment's %d", n, s.id, pi, len(s.pages))
		}
		for uint64(len(s.pages)) <= pi {
			s.pages = append(s.pages, new(slotPage))
			k := pageKey{s.id, uint64(len(s.pages) - 1)}
			ownPage[k] = true
			fx.dirty = append(fx.dirty, k)
		}
		k := pageKey{s.id, pi}
		if !ownPage[k] {
			c := *s.pages[pi]
			s.pages[pi] = &c
			ownPage[k] = true
			fx.dirty = append(fx.dirty, k)
		}
		return &s.pages[pi][n%segment.SlotsPerPage], nil
	}
	for _, o := range ops {
		switch o.kind {
		case journal.KindCreateSegment:
			if o.seg == 0 || o.name == "" {
				return nil, effects{}, fmt.Errorf("create segment %q with id %d", o.name, o.seg)
			}
			i, ok := nv.find(o.name)
			if _, s := nv.segByID(o.seg); ok || s != nil {
				return nil, effects{}, fmt.Errorf("create segment %q (%d): it exists", o.name, o.seg)
			}
			nv.segs = slices.Insert(nv.segs, i, &segState{id: o.seg, name: o.name})
			ownSeg[o.seg] = true
			fx.created = append(fx.created, o.seg)
		case journal.KindDropSegment:
			i, s := nv.segByID(o.seg)
			if s == nil || s.name != o.name {
				return nil, effects{}, fmt.Errorf("drop segment %q (%d): it does not exist", o.name, o.seg)
			}
			for _, p := range s.pages {
				for j := range p {
					if p[j].Live && p[j].Data != (page.Ptr{}) {
						fx.superseded = append(fx.superseded, p[j].Data.Ref)
					}
				}
			}
			nv.segs = slices.Delete(nv.segs, i, i+1)
			fx.dropped = append(fx.dropped, o.seg)
		case journal.KindInsert, journal.KindUpdate, journal.KindDelete:
			s, err := mutSeg(o.seg)
			if err != nil {
				return nil, effects{}, fmt.Errorf("%v of record %d: %w", o.kind, o.slot, err)
			}
			if o.slot >= 1<<40 {
				return nil, effects{}, fmt.Errorf("%v of record %d: no such slot", o.kind, o.slot)
			}
			sl, err := mutSlot(s, o.slot)
			if err != nil {
				return nil, effects{}, err
			}
			if sl.Live == (o.kind == journal.KindInsert) {
				return nil, effects{}, fmt.Errorf("%v of record %d of segment %d: live is %v", o.kind, o.slot, o.seg, sl.Live)
			}
			if sl.Data != (page.Ptr{}) {
				fx.superseded = append(fx.superseded, sl.Data.Ref)
			}
			ns := segment.Slot{Version: sl.Version + 1}
			if o.kind == journal.KindDelete {
				fx.freedSlots = append(fx.freedSlots, pageKey{o.seg, o.slot})
			} else {
				if o.kind == journal.KindInsert {
					fx.inserted = append(fx.inserted, pageKey{o.seg, o.slot})
				}
				ns.Live, ns.Pending = true, o.data
				fx.pendingBytes += len(o.data)
				if exp, ok := segment.DataExp(len(o.data)); ok {
					fx.data.Add(exp, 1)
				}
			}
			*sl = ns
		default:
			return nil, effects{}, fmt.Errorf("an entry of kind %v among changes", o.kind)
		}
	}
	return nv, fx, nil
}
