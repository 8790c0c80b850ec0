// Package txn is persy-go's engine core: versions of the committed state,
// transactions and their locks, group commit, prepare, commit and
// rollback, checkpoints, snapshots' pins and recovery. The root package
// persy is its public API, a set of thin wrappers over it.
//
// persy-go is an embedded, transactional, crash-safe
// storage engine. One file holds segments, named collections of records
// addressed by a stable RecordID. Transactions are ACID, with snapshots
// and two-phase commit under a caller-chosen id; after a crash the caller
// decides, for each transaction found prepared, commit or rollback.
//
// How a commit becomes durable: its changes, the records' contents
// included, go to the journal, and one barrier makes them durable; the
// commit is then applied in memory. A checkpoint later writes the records
// and address pages changed since the last one into fresh pages and stores
// a new root state naming them, which frees the journal. Nothing the
// durable root state reads is ever written in place, so a crash leaves the
// last checkpoint intact and recovery redoes the journal after it.
package txn

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/gopersy/persy/internal/invariant"
	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
)

// DB is an open database. It is safe for concurrent use.
type DB struct {
	s     mmapfile.Storage
	opts  Options
	locks *lockTable
	nodes *nodeCache // decoded index nodes

	mu      sync.Mutex // guards the fields to the next blank line
	cond    *sync.Cond
	cur     *version
	pins    map[uint64]int // version seq -> readers and snapshots on it
	slots   map[uint64]*slotAlloc
	nextSeg uint64
	closed  bool
	// closedNow mirrors closed for a check without mu: a snapshot's, on
	// every read.
	closedNow atomic.Bool
	err       error // sticky: the storage failed; reopen to recover
	queue     []*commitReq
	leading   bool

	// The write side, guarded by wmu: held by the group-commit leader,
	// checkpoints and Close.
	wmu        sync.Mutex
	alloc      *page.Allocator
	jw         *journal.Writer
	durable    page.State             // the root state last stored
	disk       map[uint64][]page.Ptr  // each segment's address pages in the file
	catPages   []page.Ptr             // the catalogue's pages in the file
	dirty      map[pageKey]bool       // address pages changed since the checkpoint
	dropped    []uint64               // segments dropped since the checkpoint
	superseded []retainedPage         // data pages unreachable since the checkpoint
	packsLeft  map[int64]packLeft     // packs a record left since the checkpoint, by address
	retained   []retainedPage         // unreachable pages a pin held at the checkpoint
	prepared   map[uint64]*preparedTx // undecided prepared transactions, by journal number
	unsynced   bool                   // background commits written without a barrier
	hold       ckptHold               // what the next checkpoint needs room for

	bgWake chan struct{}
	bgDone chan struct{}

	// shut is set, under the write lock of views, before the storage
	// closes: reads hold the read lock, so none reads a closed mapping.
	views sync.RWMutex
	shut  bool
	// shutNow mirrors shut for a check without the lock: a scan's, per
	// record it yields.
	shutNow atomic.Bool
}

// slotAlloc hands out a segment's record slots: emptied ones first, the
// lowest of those the database opened with before the rest. It finds
// the empty slots a segment opened with page by page, a few pages a take
// at most, so that opening a file reads no address page and no insert
// waits on a search of the whole segment. Callers hold mu.
type slotAlloc struct {
	next uint64   // slots from next on were never used
	free []uint64 // emptied slots, taken from the end
	// pages is the number of address pages the segment had when the
	// database opened, and scan the first of them not yet searched for
	// the slots it held empty then.
	scan, pages uint64
	// known holds the slots on pages from scan on that free has had
	// since the database opened: the search passes them over.
	known map[uint64]bool
}

// searchPages bounds the address pages one take searches for empty
// slots before it takes a slot never used.
const searchPages = 8

// take returns the slot to fill next in segment s of the current
// version.
func (a *slotAlloc) take(db *DB, s *segState) (uint64, error) {
	for k := 0; len(a.free) == 0 && a.scan < a.pages && s != nil && k < searchPages; k++ {
		found, err := db.emptySlots(s, a.scan, a.known)
		if err != nil {
			return 0, err // nothing changed: the page is searched again
		}
		for j := range uint64(segment.SlotsPerPage) {
			delete(a.known, a.scan*segment.SlotsPerPage+j)
		}
		a.free = append(a.free, found...)
		a.scan++
	}
	if n := len(a.free); n > 0 {
		slot := a.free[n-1]
		a.free = a.free[:n-1]
		return slot, nil
	}
	a.next++
	return a.next - 1, nil
}

// emptySlots returns the slots of page p of s that hold no record and
// that known does not hold, highest first, reading the page once.
func (db *DB) emptySlots(s *segState, p uint64, known map[uint64]bool) (out []uint64, err error) {
	err = db.fromFile(func() error {
		pv, err := s.view(db.s, p)
		if err != nil {
			return err
		}
		for j := segment.SlotsPerPage - 1; j >= 0; j-- {
			n := p*segment.SlotsPerPage + uint64(j)
			sl, err := pv.slot(j)
			if err != nil {
				return err
			}
			if !sl.Live && !known[n] {
				out = append(out, n)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// give makes slot n empty again, the next to take.
func (a *slotAlloc) give(n uint64) {
	a.free = append(a.free, n)
	if n/segment.SlotsPerPage >= a.scan && n/segment.SlotsPerPage < a.pages {
		if a.known == nil {
			a.known = map[uint64]bool{}
		}
		a.known[n] = true
	}
}

type retainedPage struct {
	ref page.Ref
	seq uint64 // the first version that does not read it
}

// preparedTx is a prepared transaction not yet decided.
type preparedTx struct {
	jtx uint64 // its journal number: the LSN of its Start entry
	id  []byte
	ops []op
}

// Create creates a new, empty database file at path, which must not
// exist (the error then wraps fs.ErrExist), and closes it. The file
// appears at path only whole: a crash while creating it leaves no file
// there, never one that does not open.
func Create(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("persy: create %s: %w", path, fs.ErrExist)
	}
	linked, err := createAt(path, Options{}, nil)
	if err == nil && !linked {
		err = fmt.Errorf("persy: create %s: %w", path, fs.ErrExist)
	}
	return err
}

// Open opens the database file at path. Transactions recovery finds
// prepared and undecided are decided by opts.OnPrepared (commit if nil).
// A second Open of the same file, in this process or another, fails with
// ErrLocked, unless both opens are read-only (Options.ReadOnly): readers
// share the file.
func Open(path string, opts Options) (*DB, error) {
	rec, err := OpenRecover(path, opts)
	if err != nil {
		return nil, err
	}
	return rec.Finish()
}

// OpenOrCreate opens the database file at path, creating it first if it
// does not exist; on creation only, init runs in a transaction. The file
// appears at path only with init committed: it is built under a temporary
// name beside it and linked into place, so a crash or a failing init never
// leaves a file that a later OpenOrCreate would open without init. Of
// creators racing on one path, one file wins; the others open it, or fail
// with ErrLocked while another holds it. With Options.ReadOnly it creates
// nothing: a missing file is an error wrapping fs.ErrNotExist.
func OpenOrCreate(path string, opts Options, init func(tx *Tx) error) (*DB, error) {
	db, err := Open(path, opts)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || opts.ReadOnly {
		return db, err
	}
	if _, err := createAt(path, opts, init); err != nil {
		return nil, err
	}
	return Open(path, opts)
}

// createAt builds a database at path with init committed, under a
// temporary name beside it, and links it into place unless a file is
// there already; it reports whether its file is the one linked. The
// directory is synced either way, so the file at path is durable.
func createAt(path string, opts Options, init func(tx *Tx) error) (linked bool, err error) {
	removeStaleCreations(path)
	// A name of this creation's own: a creation under way in another
	// process keeps its file, and the file linked into place is ours.
	tmp := fmt.Sprintf("%s%s%d-%d", path, creatingSuffix, os.Getpid(), creations.Add(1))
	f, err := mmapfile.Create(tmp, mmapfile.Options{})
	if err != nil {
		return false, fmt.Errorf("persy: create %s: %w", path, err)
	}
	// init runs under the caller's options, but syncs once, at Close.
	ndb, err := OpenStorage(f, Options{ManualSync: true, Strategy: opts.Strategy, LockTimeout: opts.LockTimeout, IndexNodeBytes: opts.IndexNodeBytes})
	if err != nil {
		// OpenStorage closed f.
		os.Remove(tmp)
		return false, err
	}
	if init != nil {
		err = ndb.Update(init)
	}
	if cerr := ndb.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Link, unlike rename, never replaces a file another process
		// created at path meanwhile: that one wins.
		lerr := os.Link(tmp, path)
		linked = lerr == nil
		if lerr != nil && !errors.Is(lerr, fs.ErrExist) {
			err = fmt.Errorf("persy: create %s: %w", path, lerr)
		}
	}
	os.Remove(tmp)
	if err != nil {
		return false, err
	}
	if err := mmapfile.SyncDir(filepath.Dir(path)); err != nil {
		return false, fmt.Errorf("persy: create %s: %w", path, err)
	}
	return linked, nil
}

// creatingSuffix, a process id and a count name the file a creation
// builds before linking it into place.
const creatingSuffix = ".creating-"

var creations atomic.Uint64

// removeStaleCreations removes the files of creations of path that a crash
// cut short: those no handle holds. One another creation holds is left
// alone; one just made and not yet locked may go, and that creation then
// fails to link it, with an error.
func removeStaleCreations(path string) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), base+creatingSuffix) || !e.Type().IsRegular() {
			continue
		}
		t := filepath.Join(dir, e.Name())
		f, err := mmapfile.Open(t, mmapfile.Options{})
		if err != nil {
			continue // a creation under way holds it
		}
		os.Remove(t)
		f.Close()
	}
}

// OpenRecover opens the database file at path and stops before deciding
// the prepared transactions: the Recovery lists every transaction the
// journal holds, takes a decision for each prepared one and Finish opens
// the database.
func OpenRecover(path string, opts Options) (*Recovery, error) {
	f, err := mmapfile.Open(path, mmapfile.Options{ReadOnly: opts.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("persy: open %s: %w", path, err)
	}
	return Recover(f, opts) // which closes f when it fails
}

// OpenMemory opens a new database held in memory only.
func OpenMemory(opts Options) (*DB, error) {
	m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	if err != nil {
		return nil, err
	}
	return OpenStorage(m, opts)
}

// OpenStorage opens the database held in s, formatting it first if it is
// empty, and decides prepared transactions as Open does. A storage
// holding what a format cut short by a crash leaves (page.Unformatted:
// at most page.FormatBytes and no valid page past the root slots, so
// nothing committed) is formatted again.
//
// s belongs to the database from the call on, whatever its outcome:
// DB.Close closes it, and so does OpenStorage itself when it fails. The
// caller never closes it (a second Close does nothing).
func OpenStorage(s mmapfile.Storage, opts Options) (*DB, error) {
	if s.Size() == 0 || page.Unformatted(s) {
		if opts.ReadOnly {
			s.Close()
			return nil, fmt.Errorf("%w: the storage holds no database, and a read-only open does not format one", ErrReadOnly)
		}
		db, err := create(s, opts)
		if err != nil {
			s.Close()
			return nil, err
		}
		db.start()
		return db, nil
	}
	// Recover and Finish close s when they fail.
	rec, err := Recover(s, opts)
	if err != nil {
		return nil, err
	}
	return rec.Finish()
}

func newDB(s mmapfile.Storage, opts Options) *DB {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.CheckpointBytes <= 0 {
		opts.CheckpointBytes = DefaultCheckpointBytes
	}
	db := &DB{
		s: s, opts: opts, locks: newLockTable(),
		cur: &version{}, pins: map[uint64]int{}, slots: map[uint64]*slotAlloc{}, nextSeg: 1,
		disk: map[uint64][]page.Ptr{}, dirty: map[pageKey]bool{}, packsLeft: map[int64]packLeft{}, prepared: map[uint64]*preparedTx{},
		nodes: newNodeCache(nodeCacheEntries),
	}
	db.cond = sync.NewCond(&db.mu)
	return db
}

func create(s mmapfile.Storage, opts Options) (*DB, error) {
	db := newDB(s, opts)
	st, err := page.Format(s)
	if err != nil {
		return nil, fmt.Errorf("persy: format: %w", err)
	}
	db.alloc = page.NewAllocator(s, st)
	if db.jw, err = journal.Create(s, db.alloc, nil); err != nil {
		return nil, fmt.Errorf("persy: format: %w", err)
	}
	db.durable = db.alloc.State()
	return db, nil
}

// start starts the background worker, unless the options turn it off.
func (db *DB) start() {
	if db.opts.ManualSync {
		return
	}
	db.bgWake, db.bgDone = make(chan struct{}, 1), make(chan struct{})
	go func() {
		defer close(db.bgDone)
		for range db.bgWake {
			if err := db.Sync(); err != nil && !errors.Is(err, ErrClosed) {
				db.opts.logger().Error("persy: background sync failed; the database has stopped", "err", err)
			}
		}
	}()
}

// journalCommit stores the root state for the journal's spare pages,
// keeping the catalogue and checkpoint of the last checkpoint.
func (db *DB) journalCommit() error {
	// A refill: nothing but the allocator's own pages and the journal's
	// fields change, and the spares it lists are not written yet.
	err := db.alloc.CommitOwn(func(st *page.State) {
		st.Catalog, st.Checkpoint = db.durable.Catalog, db.durable.Checkpoint
		db.jw.Fill(st)
	})
	if err == nil {
		db.durable = db.alloc.State()
	}
	return err
}

// lockWriter takes the writer's lock for a database still running, or
// returns why it is not, holding nothing.
func (db *DB) lockWriter() error {
	db.wmu.Lock()
	db.mu.Lock()
	err := db.stateErr()
	db.mu.Unlock()
	if err != nil {
		db.wmu.Unlock()
	}
	return err
}

// stateErr returns the database's sticky error, or ErrClosed.
func (db *DB) stateErr() error {
	if db.closed {
		return ErrClosed
	}
	return db.err
}

// fail makes err the database's sticky error: after a failed write or
// sync nothing more is acknowledged; the way on is reopening.
func (db *DB) fail(err error) error {
	return db.stop("persy: the database stopped after a storage failure; reopen it to recover: %w", err)
}

// keptAndFreed reports a page the checkpoint frees (at an address in
// freed) that the catalogue it writes still names, as an address page or
// a retained one: a broken invariant, since the page would be reused
// while the file reads it.
func keptAndFreed(cat *segment.Catalog, freed []int64) error {
	if len(freed) == 0 {
		return nil
	}
	slices.Sort(freed)
	kept := func(addr int64) bool {
		_, ok := slices.BinarySearch(freed, addr)
		return ok
	}
	for _, e := range cat.Segments {
		for _, p := range e.Pages {
			if kept(p.Addr) {
				return invariant.Violated("the checkpoint frees page %d and keeps it as an address page of segment %d", p.Addr, e.ID)
			}
		}
	}
	for _, r := range cat.Retained {
		if kept(r.Addr) {
			return invariant.Violated("the checkpoint frees page %d and keeps it retained", r.Addr)
		}
	}
	return nil
}

// failInternal makes err, a broken invariant, the database's sticky
// error: its state in memory can no longer be trusted, and reopening
// rebuilds it from the file.
func (db *DB) failInternal(err error) error {
	return db.stop("persy: the database stopped on an internal error; reopen it: %w", err)
}

// stop makes err, wrapped by format, the sticky error unless one is set
// already, and returns the sticky error.
func (db *DB) stop(format string, err error) error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.err == nil {
		db.err = fmt.Errorf(format, err)
	}
	return db.err
}

// releaseLocks gives back locks; a broken invariant among them stops the
// database.
func (db *DB) releaseLocks(locks []lockReq) {
	if err := db.locks.release(locks); err != nil {
		db.failInternal(err)
	}
}

// pin returns the current version and keeps the pages it reads from being
// reused until unpin.
func (db *DB) pin() (*version, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.stateErr(); err != nil {
		return nil, err
	}
	v := db.cur
	db.pins[v.seq]++
	return v, nil
}

func (db *DB) unpin(v *version) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.pins[v.seq]--; db.pins[v.seq] <= 0 {
		delete(db.pins, v.seq)
	}
}

// minPin is the oldest version read, MaxUint64 if none is. Callers hold mu.
func (db *DB) minPin() uint64 {
	m := uint64(math.MaxUint64)
	for seq := range db.pins {
		m = min(m, seq)
	}
	return m
}

// fromFile runs read, which reads the file's mapping, for a caller
// holding no views lock: under views' read lock (ErrClosed after Close)
// and the fault guard, whose fault is then the error.
func (db *DB) fromFile(read func() error) error {
	db.views.RLock()
	defer db.views.RUnlock()
	if db.shut {
		return ErrClosed
	}
	var err error
	if ferr := mmapfile.Protect(func() { err = read() }); ferr != nil {
		return ferr
	}
	return err
}

// readRecord returns a copy of record n of s, ErrRecordNotFound if it
// holds none, and its slot.
func (db *DB) readRecord(s *segState, n uint64) (data []byte, sl segment.Slot, err error) {
	err = db.fromFile(func() error {
		var ok bool
		var err error
		if sl, ok, err = s.slot(db.s, n); err != nil {
			return err
		}
		switch {
		case !ok || !sl.Live:
			return ErrRecordNotFound
		case sl.Pending != nil:
			data = slices.Clone(sl.Pending)
			return nil
		}
		data, err = segment.ReadData(db.s, sl.Data, sl.Entry, s.id, n)
		return err
	})
	if err != nil {
		return nil, sl, err
	}
	return data, sl, nil
}

// readSlot returns a copy of the record in sl, slot n of segment seg.
func (db *DB) readSlot(seg, n uint64, sl *segment.Slot) ([]byte, error) {
	if sl == nil || !sl.Live {
		return nil, ErrRecordNotFound
	}
	if sl.Pending != nil {
		return slices.Clone(sl.Pending), nil
	}
	var data []byte
	err := db.fromFile(func() (err error) {
		data, err = segment.ReadData(db.s, sl.Data, sl.Entry, seg, n)
		return err
	})
	return data, err
}

// Sync makes every commit made so far durable, background ones included.
func (db *DB) Sync() error {
	if err := db.lockWriter(); err != nil {
		return err
	}
	defer db.wmu.Unlock()
	if !db.unsynced {
		return nil
	}
	if err := db.jw.Flush(); err != nil {
		return db.fail(err)
	}
	db.unsynced = false
	return db.maybeCheckpoint()
}

// Checkpoint writes every change committed since the last checkpoint into
// the file's pages, stores a root state naming them and frees the journal
// they were in: recovery after it has nothing of them to redo. Commits
// run checkpoints on their own as the journal grows. On a database
// opened with Options.ReadOnly it fails with ErrReadOnly; with no room in
// the file for the checkpoint it changes nothing and returns an error
// wrapping syscall.ENOSPC, the journal still holding every commit.
func (db *DB) Checkpoint() error {
	if err := db.lockWriter(); err != nil {
		return err
	}
	if db.opts.ReadOnly {
		db.wmu.Unlock()
		return ErrReadOnly
	}
	defer db.wmu.Unlock()
	return db.checkpoint()
}

func (db *DB) maybeCheckpoint() error {
	if db.journalSize() < uint64(db.opts.CheckpointBytes) {
		return nil
	}
	if err := db.checkpoint(); err != nil && !errors.Is(err, errNoRoom) {
		return err
	}
	return nil // a checkpoint with no room waits for one with room
}

// wastedWeight is how many times the journal's size counts the page
// bytes its entries leave unused.
const wastedWeight = 8

// journalSize is the journal's size since the last checkpoint, as
// Options.CheckpointBytes measures it: its entries' bytes, and the page
// bytes they leave unused wastedWeight times over. A stream of small
// synchronous commits, each taking a page of its own, reaches the limit
// at an eighth of it in pages: a checkpoint then frees those pages, and
// the file, and what a recovery redoes, stay small. Commits that fill
// their pages reach it by their entries.
func (db *DB) journalSize() uint64 {
	entries := db.jw.End() - db.durable.Checkpoint
	pages := uint64(db.jw.PagesSince(db.durable.Checkpoint)) << journal.PageExp
	if pages <= entries {
		return entries
	}
	return entries + wastedWeight*(pages-entries)
}

// checkpoint writes the current version into fresh pages and stores it.
// The caller holds wmu.
func (db *DB) checkpoint() error {
	if err := db.jw.Flush(); err != nil {
		return db.fail(err)
	}
	db.unsynced = false
	db.mu.Lock()
	v, minPin, nextSeg := db.cur, db.minPin(), db.nextSeg
	db.mu.Unlock()
	if err := db.emptiedPacks(v); err != nil {
		return db.fail(err)
	}
	if err := db.reserveCheckpoint(v, minPin, nextSeg); errors.Is(err, syscall.ENOSPC) {
		// Nothing changed: the journal still holds every commit, and
		// the database goes on without the checkpoint.
		return fmt.Errorf("%w: %w", errNoRoom, err)
	} else if err != nil {
		return db.fail(err)
	}

	// Pages no version still read are freed; the rest stay listed.
	var keep []retainedPage
	var freed []int64 // addresses, to check none is kept
	for _, r := range append(db.retained, db.superseded...) {
		if r.seq <= minPin || mutant.On(mutant.SnapshotPagesFreed) {
			if err := db.alloc.Free(r.ref); err != nil {
				return db.fail(err)
			}
			freed = append(freed, r.ref.Addr)
		} else {
			keep = append(keep, r)
		}
	}
	// An address page replaced or dropped is read by the versions
	// before v that have it on disk: freed, like a data page, once no
	// pin holds one of them.
	retire := func(r page.Ref) error {
		if v.seq > minPin && !mutant.On(mutant.SnapshotPagesFreed) {
			keep = append(keep, retainedPage{ref: r, seq: v.seq})
			return nil
		}
		freed = append(freed, r.Addr)
		return db.alloc.Free(r)
	}
	for _, id := range db.dropped {
		for _, r := range db.disk[id] {
			if err := retire(r.Ref); err != nil {
				return db.fail(err)
			}
		}
		delete(db.disk, id)
	}
	seq := db.durable.Gen + 1
	nv := &version{seq: v.seq, segs: slices.Clone(v.segs)}
	keys := make([]pageKey, 0, len(db.dirty))
	for k := range db.dirty {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pageKey) int {
		if a.seg != b.seg {
			return cmpU64(a.seg, b.seg)
		}
		return cmpU64(a.page, b.page)
	})
	for i := 0; i < len(keys); {
		j := i
		for j < len(keys) && keys[j].seg == keys[i].seg {
			j++
		}
		si, s := nv.segByID(keys[i].seg)
		if s != nil {
			c := *s
			c.pages = slices.Clone(s.pages)
			nv.segs[si] = &c
			if err := db.writeSegmentPages(&c, keys[i:j], seq, retire); err != nil {
				return db.fail(err)
			}
		}
		i = j
	}
	cat := &segment.Catalog{NextSegment: nextSeg}
	byID := slices.Clone(nv.segs)
	slices.SortFunc(byID, func(a, b *segState) int { return cmpU64(a.id, b.id) })
	for _, s := range byID {
		cat.Segments = append(cat.Segments, segment.Entry{ID: s.id, Name: s.name, Pages: db.disk[s.id]})
	}
	for _, r := range keep {
		cat.Retained = append(cat.Retained, r.ref)
	}
	if err := keptAndFreed(cat, freed); err != nil {
		return db.failInternal(err)
	}
	refs, err := segment.WriteCatalog(db.s, db.alloc.Allocate, seq, cat)
	if err != nil {
		return db.fail(err)
	}
	for _, r := range db.catPages {
		if err := db.alloc.Free(r.Ref); err != nil {
			return db.fail(err)
		}
	}
	// The checkpoint wrote v, and is about to free the journal that
	// redoes it and to publish it: a version published since would be
	// lost. The writer's lock keeps commits out until it is done.
	db.mu.Lock()
	cur := db.cur
	db.mu.Unlock()
	if cur != v {
		return db.failInternal(invariant.Violated("the checkpoint of version %d would publish over version %d", v.seq, cur.seq))
	}
	head := db.jw.End()
	for _, p := range db.prepared {
		head = min(head, p.jtx)
	}
	if err := db.jw.Trim(head); err != nil {
		return db.fail(err)
	}
	end := db.jw.End()
	if err := db.alloc.Commit(func(st *page.State) {
		st.Catalog, st.Checkpoint = refs[0], end
		db.jw.Fill(st)
	}); err != nil {
		return db.fail(err)
	}
	db.jw.Committed()
	db.durable = db.alloc.State()
	db.catPages, db.retained, db.superseded, db.dropped = refs, keep, nil, nil
	clear(db.packsLeft)
	clear(db.dirty)
	db.resetHold()
	db.mu.Lock()
	db.cur = nv
	db.mu.Unlock()
	return nil
}

// errNoRoom marks a checkpoint the file had no room for: it changed
// nothing, and the database goes on.
var errNoRoom = errors.New("persy: no room in the file for a checkpoint")

// reserveCheckpoint makes sure the checkpoint of v can allocate every page
// it writes, using the allocator's ballast if it must, before it changes
// anything: the records and address pages changed, the catalogue, and
// the chunks that list what it frees (at most the pages it may free:
// those no pin holds, the dropped segments', the address and catalogue
// pages it replaces, the journal's).
func (db *DB) reserveCheckpoint(v *version, minPin, nextSeg uint64) error {
	return db.alloc.Reserve(db.checkpointNeed(v, minPin, nextSeg), true)
}

// checkpointNeed returns what reserveCheckpoint reserves.
func (db *DB) checkpointNeed(v *version, minPin, nextSeg uint64) page.Need {
	var n page.Need
	var freeing []page.Ref
	kept := 0
	for _, r := range append(db.retained, db.superseded...) {
		if r.seq <= minPin {
			freeing = append(freeing, r.ref)
		} else {
			kept++
		}
	}
	retire := func(r page.Ref) {
		if v.seq > minPin {
			kept++
		} else {
			freeing = append(freeing, r)
		}
	}
	for _, id := range db.dropped {
		for _, r := range db.disk[id] {
			retire(r.Ref)
		}
	}
	for k := range db.dirty {
		_, s := v.segByID(k.seg)
		if s == nil || k.page >= uint64(len(s.pages)) || s.pages[k.page].mem == nil {
			continue
		}
		for _, sl := range s.pages[k.page].mem {
			if exp, ok := segment.DataExp(len(sl.Pending)); ok && sl.Live && sl.Pending != nil {
				n.Add(exp, 1)
			}
		}
		n.Add(segment.AddressExp, 1)
		if pages := db.disk[k.seg]; k.page < uint64(len(pages)) && pages[k.page] != (page.Ptr{}) {
			retire(pages[k.page].Ref)
		}
	}
	for _, r := range db.catPages {
		freeing = append(freeing, r.Ref)
	}
	freeing = append(freeing, db.jw.Owned().Reachable...)
	cat := &segment.Catalog{NextSegment: nextSeg, Retained: make([]page.Ref, kept)}
	for _, s := range v.segs {
		pages := make([]page.Ptr, max(len(db.disk[s.id]), len(s.pages)))
		cat.Segments = append(cat.Segments, segment.Entry{ID: s.id, Name: s.name, Pages: pages})
	}
	n = n.Plus(segment.CatalogNeed(cat))
	return n.Plus(db.alloc.CommitNeed(n, freeing))
}

// writeSegmentPages writes the pending records and the changed address
// pages keys of s, which is nv's own copy, and leaves them in s on disk.
// retire frees or retains the address pages they replace. Small records
// share packs, in the order of their slots; the rest take a page each.
func (db *DB) writeSegmentPages(s *segState, keys []pageKey, seq uint64, retire func(page.Ref) error) error {
	pages := db.disk[s.id]
	for len(pages) < len(s.pages) {
		pages = append(pages, page.Ptr{})
	}
	write := func(exp uint8, typ page.Type, payload []byte) (page.Ptr, error) {
		r, err := db.alloc.Allocate(exp)
		if err != nil {
			return page.Ptr{}, err
		}
		h := page.Header{Exp: exp, Type: typ, Addr: r.Addr, Seq: seq}
		return page.WritePtr(db.s, make([]byte, r.Bytes()), h, payload)
	}
	packer := segment.NewPacker(s.id, write)
	mem := make([]*slotPage, len(keys))
	for ki, k := range keys {
		if k.page >= uint64(len(s.pages)) {
			continue
		}
		if s.pages[k.page].mem == nil {
			return invariant.Violated("address page %d of segment %d is dirty and not in memory", k.page, s.id)
		}
		sp := *s.pages[k.page].mem
		mem[ki] = &sp
		for i := range sp {
			sl := &sp[i]
			if !sl.Live || sl.Pending == nil {
				continue
			}
			if segment.Packable(len(sl.Pending)) {
				if err := packer.Add(k.page*segment.SlotsPerPage+uint64(i), sl); err != nil {
					return err
				}
				continue
			}
			exp, ok := segment.DataExp(len(sl.Pending))
			if !ok {
				return fmt.Errorf("persy: a record of %d bytes", len(sl.Pending))
			}
			ptr, err := write(exp, page.TypeData, sl.Pending)
			if err != nil {
				return err
			}
			sl.Data, sl.Entry, sl.Pending = ptr, 0, nil
		}
	}
	if err := packer.Flush(); err != nil {
		return err
	}
	for ki, k := range keys {
		sp := mem[ki]
		if sp == nil {
			continue
		}
		ptr, err := write(segment.AddressExp, page.TypeAddress, segment.EncodeAddress(s.id, k.page, (*[segment.SlotsPerPage]segment.Slot)(sp)))
		if err != nil {
			return err
		}
		if old := pages[k.page]; old != (page.Ptr{}) {
			if err := retire(old.Ref); err != nil {
				return err
			}
		}
		pages[k.page] = ptr
		dp := &diskPage{ptr: ptr}
		dp.checked.Store(true) // as written
		s.pages[k.page] = addrPage{disk: dp}
	}
	db.disk[s.id] = pages
	return nil
}

// packLeft is a pack a record left, and the last commit that left it.
type packLeft struct {
	ptr page.Ptr
	seq uint64
}

// emptiedPacks moves to superseded the packs a record left since the
// last checkpoint that no slot of v, the version it writes, reads: each
// entry of such a pack names its slot, and no slot of v names that
// entry. A pack that fails its checks is kept, and logged: which slots
// it serves is unknown, and a page kept that none reads is a leak Check
// reports, where one freed that some slot reads would be overwritten.
// The caller holds wmu.
func (db *DB) emptiedPacks(v *version) error {
	if len(db.packsLeft) == 0 {
		return nil
	}
	left := make([]packLeft, 0, len(db.packsLeft))
	for _, r := range db.packsLeft {
		left = append(left, r)
	}
	slices.SortFunc(left, func(a, b packLeft) int { return cmp.Compare(a.ptr.Addr, b.ptr.Addr) })
	var err error
	ferr := mmapfile.Protect(func() {
		for _, r := range left {
			var used bool
			var ce *page.CorruptError
			if used, err = db.packUsed(v, r.ptr); errors.As(err, &ce) {
				db.opts.logger().Warn("persy: a pack a record left fails its checks; it is kept, unread", "page", r.ptr.Addr, "err", err)
				used, err = true, nil
			} else if err != nil {
				return
			}
			if !used || mutant.On(mutant.PackFreedEarly) {
				db.superseded = append(db.superseded, retainedPage{r.ptr.Ref, r.seq})
			}
		}
	})
	if ferr != nil {
		return ferr
	}
	if err != nil {
		return err
	}
	clear(db.packsLeft)
	return nil
}

// packUsed reports whether a slot of v reads pack r. The caller holds
// wmu, under a fault guard.
func (db *DB) packUsed(v *version, r page.Ptr) (bool, error) {
	seg, slots, err := segment.PackSlots(db.s, r)
	if err != nil {
		return false, err
	}
	_, s := v.segByID(seg)
	if s == nil {
		return false, nil
	}
	for i, n := range slots {
		sl, ok, err := s.slot(db.s, n)
		if err != nil {
			return false, err
		}
		if ok && sl.Live && sl.Pending == nil && sl.Data == r && sl.Entry == uint8(i+1) {
			return true, nil
		}
	}
	return false, nil
}

// clean reports whether the file holds everything in memory: a
// checkpoint would change nothing. The caller holds wmu.
func (db *DB) clean() bool {
	return len(db.dirty) == 0 && len(db.superseded) == 0 && len(db.packsLeft) == 0 && len(db.dropped) == 0 && len(db.retained) == 0 &&
		!db.unsynced && db.jw.End() == db.durable.Checkpoint
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Close makes every commit durable, writes a checkpoint and closes the
// file. The checkpoint is left out when there is nothing to write, when
// the database is read-only, and when the file has no room for it: the
// journal, durable by then, holds every commit for the next open. A
// file opened by path is then cut back to the pages the database holds:
// it grows ahead of them as commits come. Prepared transactions not
// decided stay prepared in the file, for recovery to decide. Snapshots
// and transactions still open fail from then on with ErrClosed, and so
// does a second Close. After a storage failure stopped the database,
// Close still closes the file and returns that failure: commits not made
// durable before it are left to recovery.
func (db *DB) Close() error {
	db.wmu.Lock()
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		db.wmu.Unlock()
		return ErrClosed
	}
	failed := db.err
	db.closed = true
	db.closedNow.Store(true)
	db.mu.Unlock()
	// A database stopped by a storage failure may hold commits that
	// are not durable, background ones written before the failure: Close
	// says so rather than promise them.
	err := failed
	if mutant.On(mutant.CloseHidesFailure) {
		err = nil
	}
	if failed == nil && !db.opts.ReadOnly && !db.clean() {
		// With no room for it, the checkpoint is left to the next open:
		// the journal holds every commit.
		if err = db.checkpoint(); errors.Is(err, errNoRoom) {
			err = nil
		}
	}
	// The file grows ahead of the allocator; what lies past the
	// allocator's end no page reaches, in memory or in either root copy
	// a crash may leave (page.Ends). The ballast stays: a file that is
	// full when it next opens must still find room for a checkpoint.
	var trim int64
	if err == nil && !db.opts.ReadOnly {
		var ends int64
		if ferr := mmapfile.Protect(func() { ends = page.Ends(db.s) }); ferr == nil {
			end := max(db.alloc.State().End, db.durable.End, ends)
			trim = (end+mmapfile.PageBytes-1)&^(mmapfile.PageBytes-1) + page.BallastBytes
		}
	}
	db.wmu.Unlock()
	if db.bgWake != nil {
		close(db.bgWake)
		<-db.bgDone
	}
	db.views.Lock()
	db.shut = true
	db.shutNow.Store(true)
	db.views.Unlock()
	var cerr error
	if t, ok := db.s.(interface{ CloseTrimmed(int64) error }); ok && trim > 0 {
		cerr = t.CloseTrimmed(trim)
	} else {
		cerr = db.s.Close()
	}
	if err == nil {
		err = cerr
	}
	return err
}
