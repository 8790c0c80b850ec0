package txn

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
)

// slotPage is one address page's slots in memory. A slotPage reachable
// from a published version never changes: apply copies it first.
type slotPage [segment.SlotsPerPage]segment.Slot

// addrPage is one address page of a segment as a version has it: in
// memory (mem) if a commit changed it since the checkpoint that last
// wrote it, or if none has written it yet; else on disk, read on demand.
// So opening a file reads no address page, and a database holds in
// memory only the pages changed since its last checkpoint.
type addrPage struct {
	mem  *slotPage
	disk *diskPage
}

// diskPage is an address page in the file. checked is set once the whole
// page has been checked (its checksum, header, segment and index): the
// page does not change while any version reads it, since the checkpoint
// that replaces it frees it only once no pinned version does.
type diskPage struct {
	ptr     page.Ptr
	checked atomic.Bool
}

type segState struct {
	id    uint64
	name  string
	pages []addrPage
}

// slot returns slot n of s and true, or false if n is past s's pages. A
// page on disk is read from f: the caller keeps f's pages readable (holds
// views' read lock, or wmu, or mu on the current version: what a
// checkpoint frees, no version it could reach reads) and guards against
// faults (mmapfile.Protect). db.slot does both.
func (s *segState) slot(f mmapfile.Storage, n uint64) (segment.Slot, bool, error) {
	i := n / segment.SlotsPerPage
	if i >= uint64(len(s.pages)) {
		return segment.Slot{}, false, nil
	}
	v, err := s.view(f, i)
	if err != nil {
		return segment.Slot{}, false, err
	}
	sl, err := v.slot(int(n % segment.SlotsPerPage))
	return sl, err == nil, err
}

// pageView is one address page's slots, in memory or in the file.
type pageView struct {
	mem  *slotPage
	disk segment.AddressView
}

func (v *pageView) slot(j int) (segment.Slot, error) {
	if v.mem != nil {
		return v.mem[j], nil
	}
	return v.disk.Slot(j)
}

// view returns page i of s, under the conditions of slot.
func (s *segState) view(f mmapfile.Storage, i uint64) (pageView, error) {
	p := s.pages[i]
	if p.mem != nil {
		return pageView{mem: p.mem}, nil
	}
	checked := p.disk.checked.Load()
	d, err := segment.ViewAddress(f, p.disk.ptr, s.id, i, !checked)
	if err != nil {
		return pageView{}, err
	}
	if !checked {
		p.disk.checked.Store(true) // once: a store on every read would bounce the line between cores
	}
	return pageView{disk: d}, nil
}

// load returns the slots of page i of s: the page in memory, or the page
// on disk read from f into a new one, under the conditions of slot.
func (s *segState) load(f mmapfile.Storage, i uint64) (*slotPage, error) {
	p := s.pages[i]
	if p.mem != nil {
		return p.mem, nil
	}
	sp := new(slotPage)
	if err := segment.ReadAddress(f, p.disk.ptr, s.id, i, f.Size(), (*[segment.SlotsPerPage]segment.Slot)(sp)); err != nil {
		return nil, err
	}
	if !p.disk.checked.Load() {
		p.disk.checked.Store(true)
	}
	return sp, nil
}

// each calls fn with every slot of s in order, until fn returns false,
// under the conditions of slot.
func (s *segState) each(f mmapfile.Storage, fn func(n uint64, sl *segment.Slot) bool) error {
	for i := range s.pages {
		sp, err := s.load(f, uint64(i))
		if err != nil {
			return err
		}
		for j := range sp {
			if !fn(uint64(i)*segment.SlotsPerPage+uint64(j), &sp[j]) {
				return nil
			}
		}
	}
	return nil
}

// onDisk returns the address pages of a segment as the catalogue lists
// them, on disk and unread.
func onDisk(ptrs []page.Ptr) []addrPage {
	out := make([]addrPage, len(ptrs))
	for i, r := range ptrs {
		out[i] = addrPage{disk: &diskPage{ptr: r}}
	}
	return out
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
	packsLeft    []page.Ptr // packs a record of which the new version no longer reads there
	dirty        []pageKey  // address pages changed
	created      []uint64   // segments created
	dropped      []uint64   // segments dropped
	freedSlots   []pageKey  // {segment, slot} emptied by deletes
	inserted     []pageKey  // {segment, slot} filled by inserts
	pendingBytes int
	data         page.Need // the data pages the records put take at a checkpoint, less those of contents put since the last one that they replace
}

// leave notes that the record on disk in sl leaves it: its data page is
// superseded; a pack, another record of which may still read it, is left.
func (fx *effects) leave(sl *segment.Slot) {
	if sl.Entry != 0 {
		fx.packsLeft = append(fx.packsLeft, sl.Data)
	} else {
		fx.superseded = append(fx.superseded, sl.Data.Ref)
	}
}

// apply returns v with ops applied as commit seq. It fails, changing
// nothing, if an op does not fit v: a journal that disagrees with the
// catalogue.
//
// It reads the address pages on disk it changes from f, under the
// conditions of segState.slot.
func apply(f mmapfile.Storage, v *version, seq uint64, ops []op) (*version, effects, error) {
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
			s.pages = append(s.pages, addrPage{mem: new(slotPage)})
			k := pageKey{s.id, uint64(len(s.pages) - 1)}
			ownPage[k] = true
			fx.dirty = append(fx.dirty, k)
		}
		k := pageKey{s.id, pi}
		if !ownPage[k] {
			sp, err := s.load(f, pi)
			if err != nil {
				return nil, err
			}
			c := *sp
			s.pages[pi] = addrPage{mem: &c}
			ownPage[k] = true
			fx.dirty = append(fx.dirty, k)
		}
		return &s.pages[pi].mem[n%segment.SlotsPerPage], nil
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
			err := s.each(f, func(_ uint64, sl *segment.Slot) bool {
				if sl.Live && sl.Data != (page.Ptr{}) {
					fx.leave(sl)
				}
				return true
			})
			if err != nil {
				return nil, effects{}, err
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
				fx.leave(sl)
			}
			if exp, ok := segment.DataExp(len(sl.Pending)); ok && sl.Pending != nil {
				// The page counted for the content it replaces, put
				// since the last checkpoint, will not be written.
				fx.data.Add(exp, -1)
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

// apply is apply on db's file, guarded against faults; the caller holds
// wmu.
func (db *DB) apply(v *version, seq uint64, ops []op) (nv *version, fx effects, err error) {
	if ferr := mmapfile.Protect(func() { nv, fx, err = apply(db.s, v, seq, ops) }); ferr != nil {
		return nil, effects{}, ferr
	}
	return nv, fx, err
}

// slot returns slot n of s as segState.slot does, for a caller holding
// no views lock: it takes views' read lock (ErrClosed after Close) and
// guards the read against faults.
func (db *DB) slot(s *segState, n uint64) (sl segment.Slot, ok bool, err error) {
	if i := n / segment.SlotsPerPage; i >= uint64(len(s.pages)) || s.pages[i].mem != nil {
		return s.slot(db.s, n) // nothing to read from the file
	}
	err = db.fromFile(func() (err error) {
		sl, ok, err = s.slot(db.s, n)
		return err
	})
	return sl, ok, err
}

// each is segState.each for a caller holding no views lock, as slot.
func (db *DB) each(s *segState, fn func(n uint64, sl *segment.Slot) bool) error {
	return db.fromFile(func() error { return s.each(db.s, fn) })
}
