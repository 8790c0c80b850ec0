package txn

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gopersy/persy/index"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
)

// Check walks every page of the file from its durable root state and
// returns every violation it finds, joined: pages that fail their
// checksums or name another address, address slots pointing at pages
// that are not data pages, catalogue, address and data pages that overlap
// each other, the journal or the free lists, and pages leaked. Each
// violation is a *CorruptError. It checks every index tree twice (ordered,
// balanced, separators bounding their subtrees, every node reached once):
// as the file holds it, and as the database has it in memory, since the
// file may not hold the latest commits yet. It does not compare the
// file's records with the database's memory. Commits wait while it runs.
func (db *DB) Check() error {
	if err := db.lockWriter(); err != nil {
		return err
	}
	defer db.wmu.Unlock()
	var errs []error
	if ferr := mmapfile.Protect(func() { errs = checkFile(db.s, db.alloc.State(), db.jw.Owned()) }); ferr != nil {
		return ferr
	}
	db.mu.Lock()
	v := db.cur
	db.mu.Unlock()
	errs = append(errs, db.checkIndexes(v)...)
	return errors.Join(errs...)
}

// checkIndexes checks the index trees of v, as the database has them in
// memory: the file may not hold the latest commits yet.
func (db *DB) checkIndexes(v *version) []error {
	var errs []error
	for _, seg := range v.segs {
		if !strings.HasPrefix(seg.name, indexPrefix) {
			continue
		}
		name := seg.name[len(indexPrefix):]
		src, root, err := versionTree(db, v, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var live []uint64
		err = db.each(seg, func(n uint64, sl *segment.Slot) bool {
			if n != 0 && sl.Live {
				live = append(live, n)
			}
			return true
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, checkTree(name, src, root, live)...)
	}
	return errs
}

// checkTree checks the tree of index name, whose segment's live node
// slots are live, in order.
func checkTree(name string, src nodeSource, root uint64, live []uint64) []error {
	d := src.def
	d.Root = root
	reached, _, terrs := index.CheckTree(src, d)
	var errs []error
	for _, err := range terrs {
		errs = append(errs, corruptIndex(name, "%v", err))
	}
	slices.Sort(reached)
	for _, n := range live {
		if _, ok := slices.BinarySearch(reached, n); !ok {
			errs = append(errs, corruptIndex(name, "node record %d is in no tree", n))
		}
	}
	return errs
}

// checkFile checks the file s of root state st whose journal owns jo.
func checkFile(s mmapfile.Storage, st page.State, jo page.Owned) []error {
	owned := jo
	cat, refs, err := segment.ReadCatalog(s, st.Catalog, st.End)
	for _, r := range refs {
		owned.Reachable = append(owned.Reachable, r.Ref)
	}
	if err != nil {
		return []error{err}
	}
	var errs []error
	owned.Pending = append(owned.Pending, cat.Retained...)
	packs := map[int64]bool{} // the packs reached, each counted once
	for _, e := range cat.Segments {
		var nodes *fileNodes
		if strings.HasPrefix(e.Name, indexPrefix) {
			nodes = &fileNodes{s: s, seg: e.ID, slots: map[uint64]segment.Slot{}}
		}
		for i, r := range e.Pages {
			owned.Reachable = append(owned.Reachable, r.Ref)
			var slots [segment.SlotsPerPage]segment.Slot
			if err := segment.ReadAddress(s, r, e.ID, uint64(i), st.End, &slots); err != nil {
				errs = append(errs, fmt.Errorf("segment %q: %w", e.Name, err))
				continue
			}
			for j := range slots {
				if !slots[j].Live {
					continue
				}
				sl := &slots[j]
				if sl.Entry == 0 || !packs[sl.Data.Addr] {
					owned.Reachable = append(owned.Reachable, sl.Data.Ref)
					packs[sl.Data.Addr] = sl.Entry != 0
				}
				n := uint64(i)*segment.SlotsPerPage + uint64(j)
				if err := segment.CheckData(s, sl.Data, sl.Entry, e.ID, n); err != nil {
					errs = append(errs, fmt.Errorf("segment %q, record %v: %w", e.Name, idOfSlot(n), err))
				} else if nodes != nil {
					nodes.slots[n] = *sl
				}
			}
		}
		if nodes != nil {
			errs = append(errs, nodes.check(e.Name[len(indexPrefix):])...)
		}
	}
	return append(errs, page.Check(s, st, owned)...)
}

// CheckStorage checks a database held in s that is not open, as it is on
// disk, without recovering it: the same walk as DB.Check.
func CheckStorage(s mmapfile.Storage) error {
	var errs []error
	ferr := mmapfile.Protect(func() {
		st, err := page.Load(s)
		if err != nil {
			errs = []error{err}
			return
		}
		tail, err := journal.Read(s, st, func(uint64, journal.Entry) error { return nil })
		if err != nil {
			errs = []error{err}
			return
		}
		errs = checkFile(s, st, tail.Owned(st))
	})
	if ferr != nil {
		return ferr
	}
	return errors.Join(errs...)
}

// fileNodes reads an index's nodes from the data pages of the file.
type fileNodes struct {
	s     mmapfile.Storage
	seg   uint64
	slots map[uint64]segment.Slot
}

func (f *fileNodes) read(n uint64) ([]byte, error) {
	sl, ok := f.slots[n]
	if !ok {
		return nil, fmt.Errorf("record %d does not exist", n)
	}
	return segment.ReadData(f.s, sl.Data, sl.Entry, f.seg, n)
}

func (f *fileNodes) Node(n uint64) (*index.Node, error) {
	if n == 0 {
		return nil, fmt.Errorf("node 0 is the definition")
	}
	b, err := f.read(n)
	if err != nil {
		return nil, err
	}
	return index.Decode(b)
}

// check checks the tree of index name as the file holds it.
func (f *fileNodes) check(name string) []error {
	b, err := f.read(0)
	if err != nil {
		return []error{corruptIndex(name, "its definition: %v", err)}
	}
	d, err := index.DecodeDef(b)
	if err != nil {
		return []error{corruptIndex(name, "%v", err)}
	}
	reached, _, terrs := index.CheckTree(f, d)
	var errs []error
	for _, err := range terrs {
		errs = append(errs, corruptIndex(name, "%v", err))
	}
	slices.Sort(reached)
	for n := range f.slots {
		if _, ok := slices.BinarySearch(reached, n); !ok && n != 0 {
			errs = append(errs, corruptIndex(name, "node record %d is in no tree", n))
		}
	}
	return errs
}
