package persy

import (
	"errors"
	"fmt"

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
// violation is a *CorruptError. Check also compares what the file holds
// with what the database has in memory, where the file is up to date.
func (db *DB) Check() error {
	if err := db.lockWriter(); err != nil {
		return err
	}
	defer db.wmu.Unlock()
	var errs []error
	if ferr := mmapfile.Protect(func() { errs = checkFile(db.s, db.alloc.State(), db.jw.Owned()) }); ferr != nil {
		return ferr
	}
	return errors.Join(errs...)
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
	for _, e := range cat.Segments {
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
				owned.Reachable = append(owned.Reachable, slots[j].Data.Ref)
				if err := segment.CheckData(s, slots[j].Data); err != nil {
					errs = append(errs, fmt.Errorf("segment %q, record %v: %w", e.Name, idOfSlot(uint64(i)*segment.SlotsPerPage+uint64(j)), err))
				}
			}
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
