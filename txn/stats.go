package txn

import (
	"bytes"
	"slices"
	"strings"

	"github.com/gopersy/persy/index"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
)

// Stats describes a database at one moment: the pages of its file, its
// free space and journal, its segments and indexes as the latest commit
// has them, and its prepared transactions. DB.Stats returns it.
type Stats struct {
	// FileBytes is the file's size. EndBytes is the allocator's end:
	// every page lies before it, and the bytes from it to FileBytes are
	// grown and not yet handed out.
	FileBytes, EndBytes int64
	// Pages counts the file's pages by kind, one entry per kind of
	// PageKinds in that order. In a file that passes Check every byte
	// before EndBytes is in exactly one of them.
	Pages []PageCount
	// Free counts the pages on the free lists by size class, smallest
	// first, the classes with none left out.
	Free []FreeClass
	// Journal is the journal's length.
	Journal JournalStats
	// Segments and Indexes describe the segments and indexes of the
	// latest commit, sorted by name.
	Segments []SegmentStats
	Indexes  []IndexStats
	// Prepared holds the ids of the transactions prepared and not yet
	// decided, in the order they started: those a crash now would leave
	// to recovery, or, in a database opened with Options.ReadOnly, those
	// recovery found and left undecided.
	Prepared [][]byte
}

// PageKinds names the kinds of page Stats.Pages counts, in its order:
//
//   - root: the root page and the two root state slots, the file's
//     first page.FirstPage bytes, counted as one page
//   - catalogue: the catalogue of segments and indexes
//   - address: the segments' and indexes' address pages
//   - data: the records of the segments
//   - index: the records of the indexes: definitions and tree nodes
//   - journal: the journal's pages from its head on
//   - journal spare: pages the journal holds and has not written yet
//   - free: pages on the free lists, their chunk pages included
//   - limbo: free pages an older root state still reads, reused after
//     the next root state is stored
//   - retained: pages the latest checkpoint no longer reads but kept
//     for snapshots, or freed and not yet listed, free after the next
//     checkpoint
//
// Records and index nodes committed since the last checkpoint are in
// the journal until the next one writes them into pages: they count in
// Segments and Indexes, not here.
var PageKinds = slices.Clone(pageKinds[:])

// pageKinds are the kinds Stats labels its counts with: a copy a caller
// changing PageKinds does not reach.
var pageKinds = [...]string{"root", "catalogue", "address", "data", "index", "journal", "journal spare", "free", "limbo", "retained"}

// PageCount is the number of pages of one kind and the bytes they take.
type PageCount struct {
	Kind  string // one of PageKinds
	Pages int64
	Bytes int64
}

// FreeClass is the free space of one size class.
type FreeClass struct {
	PageBytes int64 // the size of the class's pages
	Pages     int64 // pages on its free list, chunk pages included
	Bytes     int64 // PageBytes × Pages
}

// JournalStats is the journal's length.
type JournalStats struct {
	// Pages and Bytes are the journal's pages from its head on: what
	// recovery reads. A transaction prepared and not yet decided keeps
	// the head at its start.
	Pages int
	Bytes int64
	// SparePages are pages the journal holds and has not written yet.
	SparePages int
	// EntryBytes is the length of the entries journaled since the last
	// checkpoint: Options.CheckpointBytes bounds it.
	EntryBytes uint64
}

// SegmentStats describes a segment.
type SegmentStats struct {
	Name string
	// Records is the number of records; RecordBytes the sum of their
	// lengths; DataBytes the sum of the sizes of the data pages that
	// hold them, or will hold them at the next checkpoint, a pack
	// shared among its records.
	Records     int64
	RecordBytes int64
	DataBytes   int64
	// AddressPages is the number of the segment's address pages.
	AddressPages int
}

// IndexStats describes an index.
type IndexStats struct {
	Name       string
	Key, Value IndexType
	Mode       Mode
	// Depth is the number of levels of its tree, 0 when it is empty.
	Depth int
	// Keys is the number of keys; Values the number of values, Keys
	// for Replace and Exclusive, more for Cluster.
	Keys, Values int64
	// Nodes is the number of its tree's nodes; NodeBytes the sum of
	// their records' lengths.
	Nodes     int64
	NodeBytes int64
}

// Stats returns what the database holds and how its file is used. It
// writes nothing. The file's part is a walk of its catalogue and address
// pages and of the header of every record's page, during which commits
// wait; the segments and indexes are read from the latest commit,
// every index's leaves included, while commits go on.
func (db *DB) Stats() (Stats, error) {
	if err := db.lockWriter(); err != nil {
		return Stats{}, err
	}
	var st Stats
	var err error
	if ferr := mmapfile.Protect(func() { st, err = db.fileStats() }); ferr != nil {
		err = ferr
	}
	db.mu.Lock()
	prepared := make([]*preparedTx, 0, len(db.prepared))
	for _, p := range db.prepared {
		prepared = append(prepared, p)
	}
	db.mu.Unlock()
	db.wmu.Unlock()
	if err != nil {
		return Stats{}, err
	}
	slices.SortFunc(prepared, func(a, b *preparedTx) int { return cmpU64(a.jtx, b.jtx) })
	for _, p := range prepared {
		st.Prepared = append(st.Prepared, bytes.Clone(p.id))
	}

	v, err := db.pin()
	if err != nil {
		return Stats{}, err
	}
	defer db.unpin(v)
	if ferr := mmapfile.Protect(func() { err = db.contentStats(v, &st) }); ferr != nil {
		err = ferr
	}
	if err != nil {
		return Stats{}, err
	}
	return st, nil
}

// fileStats counts the file's pages by kind and its free space. The
// caller holds wmu.
func (db *DB) fileStats() (Stats, error) {
	s, st := db.s, db.alloc.State()
	out := Stats{FileBytes: s.Size(), EndBytes: st.End}
	counts := make([]PageCount, len(pageKinds))
	for i, k := range pageKinds {
		counts[i].Kind = k
	}
	add := func(kind int, r page.Ref) {
		counts[kind].Pages++
		counts[kind].Bytes += r.Bytes()
	}
	const (
		kRoot = iota
		kCatalogue
		kAddress
		kData
		kIndex
		kJournal
		kSpare
		kFree
		kLimbo
		kRetained
	)
	counts[kRoot] = PageCount{Kind: pageKinds[kRoot], Pages: 1, Bytes: page.FirstPage}

	cat, refs, err := segment.ReadCatalog(s, st.Catalog, st.End)
	if err != nil {
		return Stats{}, err
	}
	for _, r := range refs {
		add(kCatalogue, r.Ref)
	}
	packs := map[int64]bool{} // each pack counted once
	for _, e := range cat.Segments {
		kind := kData
		if strings.HasPrefix(e.Name, indexPrefix) {
			kind = kIndex
		}
		for i, r := range e.Pages {
			add(kAddress, r.Ref)
			var slots [segment.SlotsPerPage]segment.Slot
			if err := segment.ReadAddress(s, r, e.ID, uint64(i), st.End, &slots); err != nil {
				return Stats{}, err
			}
			for _, sl := range slots {
				if sl.Live && (sl.Entry == 0 || !packs[sl.Data.Addr]) {
					add(kind, sl.Data.Ref)
					packs[sl.Data.Addr] = sl.Entry != 0
				}
			}
		}
	}
	for _, r := range cat.Retained {
		add(kRetained, r)
	}
	for _, r := range db.alloc.Pending() {
		add(kRetained, r)
	}
	jo := db.jw.Owned()
	for _, r := range jo.Reachable {
		add(kJournal, r)
	}
	for _, r := range jo.Reserved {
		add(kSpare, r)
	}
	for c, f := range st.Free {
		if f.Count == 0 {
			continue
		}
		size := int64(1) << (page.MinExp + c)
		n := int64(f.Count)
		counts[kFree].Pages += n
		counts[kFree].Bytes += n * size
		out.Free = append(out.Free, FreeClass{PageBytes: size, Pages: n, Bytes: n * size})
	}
	for _, e := range st.Limbo[:st.LimboCount] {
		add(kLimbo, page.Unpack(e))
	}
	out.Pages = counts
	out.Journal = JournalStats{
		Pages:      len(jo.Reachable),
		Bytes:      int64(len(jo.Reachable)) << journal.PageExp,
		SparePages: len(jo.Reserved),
		EntryBytes: db.jw.End() - db.durable.Checkpoint,
	}
	return out, nil
}

// contentStats describes the segments and indexes of v into st.
func (db *DB) contentStats(v *version, st *Stats) error {
	for _, seg := range v.segs {
		var records, recordBytes, dataBytes, defBytes int64
		err := db.each(seg, func(i uint64, sl *segment.Slot) bool {
			if !sl.Live {
				return true
			}
			records++
			n, size := db.recordBytesHeld(seg.id, i, sl)
			recordBytes += n
			dataBytes += size
			if i == 0 {
				defBytes = n
			}
			return true
		})
		if err != nil {
			return err
		}
		if !strings.HasPrefix(seg.name, indexPrefix) {
			st.Segments = append(st.Segments, SegmentStats{Name: seg.name, Records: records,
				RecordBytes: recordBytes, DataBytes: dataBytes, AddressPages: len(seg.pages)})
			continue
		}
		name := seg.name[len(indexPrefix):]
		src, root, err := versionTree(db, v, name)
		if err != nil {
			return err
		}
		is := IndexStats{Name: name, Key: src.def.Key, Value: src.def.Value, Mode: src.def.Mode,
			Nodes: max(records-1, 0), NodeBytes: recordBytes}
		is.NodeBytes -= defBytes // the definition is no node
		if is.Depth, err = treeDepth(src, root); err != nil {
			return err
		}
		var last []byte
		err = index.Walk(src, root, index.Bound{}, index.Bound{}, false, func(p index.Pair) bool {
			if is.Values == 0 || !bytes.Equal(p.Key, last) {
				is.Keys++
				last = p.Key
			}
			is.Values++
			return true
		})
		if err != nil {
			return err
		}
		st.Indexes = append(st.Indexes, is)
	}
	return nil
}

// recordBytesHeld returns the length of the record in sl, slot i of
// segment seg, which is live, and the size of the data page that holds
// it or will, or its share of its pack. A record on a page of its own is
// sized by the page's header, which Check verifies and this trusts; a
// record in a pack is read. The caller holds views' read lock on an open
// database, under a fault guard.
func (db *DB) recordBytesHeld(seg, i uint64, sl *segment.Slot) (n, size int64) {
	if sl.Pending != nil {
		exp, _ := segment.DataExp(len(sl.Pending))
		return int64(len(sl.Pending)), int64(1) << exp
	}
	size = sl.Data.Bytes()
	if sl.Entry != 0 {
		n, entries, err := segment.PackedLen(db.s, sl.Data, sl.Entry, seg, i)
		if err != nil {
			return 0, size
		}
		share := size / int64(entries) // the first entry takes the rest
		if sl.Entry == 1 {
			share += size % int64(entries)
		}
		return int64(n), share
	}
	if sl.Data.Addr+page.HeaderSize > db.s.Size() {
		return 0, size
	}
	if h, ok := page.RawHeader(db.s.Bytes(sl.Data.Addr, page.HeaderSize)); ok {
		n = int64(min(h.Used, page.Capacity(sl.Data.Exp)))
	}
	return n, size
}
