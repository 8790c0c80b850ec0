package txn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/gopersy/persy/internal/invariant"
	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/segment"
)

// Tx is a transaction. Its reads see the latest commits and its own
// changes; nothing it does is seen by others before it commits. A Tx is
// not safe for concurrent use. After Commit, Prepare or Rollback every
// method returns ErrTxDone.
type Tx struct {
	db       *DB
	id       []byte
	strategy Strategy
	bg       bool
	done     bool

	creates  map[string]uint64 // segments it creates: name -> new id
	drops    map[string]uint64 // existing segments it drops: name -> id
	newNext  map[uint64]uint64 // next slot of each segment it creates
	writes   map[recKey]*txWrite
	reads    map[recKey]uint32   // versions it read, for VersionOnRead
	reserved []recKey            // slots reserved in existing segments
	idx      map[string]*txIndex // index changes, by index name
	nodes    map[recKey]*txWrite // index node writes of the prepare under way
	// nodeReads holds the versions of the committed index nodes the
	// prepare under way read.
	nodeReads map[recKey]uint32
}

type recKey struct {
	seg  uint64
	slot uint64
}

type txWrite struct {
	kind journal.Kind
	data []byte
	base uint32 // the version the transaction first saw
	// checked: a node of an index, whose base is checked whatever the
	// strategy; another version means prepare edits the tree again.
	checked bool
}

// Record is a record of a scan.
type Record struct {
	ID   RecordID
	Data []byte
}

// Begin starts a transaction.
func (db *DB) Begin(o TxOptions) (*Tx, error) {
	if len(o.ID) > MaxTxIDBytes && !mutant.On(mutant.TxIDUnchecked) {
		return nil, fmt.Errorf("%w: %d bytes", ErrTxIDTooLong, len(o.ID))
	}
	db.mu.Lock()
	err := db.stateErr()
	db.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if db.opts.ReadOnly {
		return nil, ErrReadOnly
	}
	strategy, err := o.Strategy.resolve(db.opts.Strategy)
	if err != nil {
		return nil, err
	}
	tx := &Tx{db: db, id: bytes.Clone(o.ID), strategy: strategy, bg: o.BackgroundSync,
		creates: map[string]uint64{}, drops: map[string]uint64{}, newNext: map[uint64]uint64{},
		writes: map[recKey]*txWrite{}, reads: map[recKey]uint32{}, idx: map[string]*txIndex{}}
	return tx, nil
}

func (tx *Tx) check() error {
	if tx == nil || tx.db == nil {
		return errNotBegun
	}
	if tx.done {
		return ErrTxDone
	}
	tx.db.mu.Lock()
	defer tx.db.mu.Unlock()
	return tx.db.stateErr()
}

// segID resolves a segment name in the transaction's view; existing says
// the segment existed before the transaction. Names reserved for indexes
// name no segment.
func (tx *Tx) segID(name string) (id uint64, existing bool, err error) {
	if reserved(name) {
		return 0, false, fmt.Errorf("%w: %q", ErrSegmentNotFound, name)
	}
	return tx.anySegID(name)
}

// anySegID is segID for any name, an index's segment included.
func (tx *Tx) anySegID(name string) (id uint64, existing bool, err error) {
	if id, ok := tx.creates[name]; ok {
		return id, false, nil
	}
	if _, ok := tx.drops[name]; ok {
		return 0, false, fmt.Errorf("%w: %q", ErrSegmentNotFound, name)
	}
	tx.db.mu.Lock()
	s := tx.db.cur.seg(name)
	tx.db.mu.Unlock()
	if s == nil {
		return 0, false, fmt.Errorf("%w: %q", ErrSegmentNotFound, name)
	}
	return s.id, true, nil
}

// CreateSegment creates a segment named name.
func (tx *Tx) CreateSegment(name string) error {
	if err := tx.check(); err != nil {
		return err
	}
	if len(name) > MaxNameBytes {
		return fmt.Errorf("%w: a segment name of %d bytes", ErrNameTooLong, len(name))
	}
	if name == "" {
		return fmt.Errorf("%w: an empty segment name", ErrEmptyName)
	}
	if reserved(name) {
		return fmt.Errorf("%w: %q", ErrReservedName, name)
	}
	if _, _, err := tx.segID(name); err == nil {
		return fmt.Errorf("%w: %q", ErrSegmentExists, name)
	}
	tx.createSegment(name)
	return nil
}

// createSegment adds a segment named name, which does not exist in the
// transaction's view, and returns its id.
func (tx *Tx) createSegment(name string) uint64 {
	tx.db.mu.Lock()
	id := tx.db.nextSeg
	tx.db.nextSeg++
	tx.db.mu.Unlock()
	tx.creates[name] = id
	return id
}

// DropSegment drops the segment named name and every record in it.
func (tx *Tx) DropSegment(name string) error {
	if err := tx.check(); err != nil {
		return err
	}
	id, existing, err := tx.segID(name)
	if err != nil {
		return err
	}
	tx.dropSegment(name, id, existing)
	return nil
}

// dropSegment drops segment id, named name, from the transaction's view.
func (tx *Tx) dropSegment(name string, id uint64, existing bool) {
	if existing {
		tx.drops[name] = id
	} else {
		delete(tx.creates, name)
		delete(tx.newNext, id)
	}
	for k := range tx.writes {
		if k.seg == id {
			delete(tx.writes, k)
		}
	}
}

// SegmentExists reports whether the segment named name exists.
func (tx *Tx) SegmentExists(name string) (bool, error) {
	if err := tx.check(); err != nil {
		return false, err
	}
	_, _, err := tx.segID(name)
	return err == nil, nil
}

// Segments returns the names of the segments, sorted.
func (tx *Tx) Segments() ([]string, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	tx.db.mu.Lock()
	var names []string
	for _, s := range tx.db.cur.segs {
		if _, dropped := tx.drops[s.name]; !dropped && !reserved(s.name) {
			names = append(names, s.name)
		}
	}
	tx.db.mu.Unlock()
	for n := range tx.creates {
		if !reserved(n) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

func checkRecord(data []byte) error {
	if len(data) > MaxRecordBytes {
		return fmt.Errorf("%w: %d bytes", ErrRecordTooBig, len(data))
	}
	return nil
}

// Insert adds a record to segment seg and returns its id. data is copied.
func (tx *Tx) Insert(seg string, data []byte) (RecordID, error) {
	if err := tx.check(); err != nil {
		return RecordID{}, err
	}
	if err := checkRecord(data); err != nil {
		return RecordID{}, err
	}
	id, existing, err := tx.segID(seg)
	if err != nil {
		return RecordID{}, err
	}
	slot, err := tx.reserveSlot(id, existing)
	if err != nil {
		if errors.Is(err, ErrSegmentNotFound) {
			err = fmt.Errorf("%w: %q", ErrSegmentNotFound, seg)
		}
		return RecordID{}, err
	}
	tx.writes[recKey{id, slot}] = &txWrite{kind: journal.KindInsert, data: bytes.Clone(nonNil(data))}
	return idOfSlot(slot), nil
}

// reserveSlot hands the transaction a free slot of segment id.
func (tx *Tx) reserveSlot(id uint64, existing bool) (uint64, error) {
	var slot uint64
	var err error
	if existing {
		db := tx.db
		db.mu.Lock()
		a := db.slots[id]
		_, s := db.cur.segByID(id)
		occupied := false
		if a == nil {
			err = ErrSegmentNotFound
		} else if slot, err = a.take(db, s); err == nil && s != nil {
			var sl segment.Slot
			var ok bool
			sl, ok, err = db.slot(s, slot)
			occupied = ok && sl.Live
		}
		db.mu.Unlock()
		if err != nil {
			return 0, err
		}
		if occupied {
			return 0, db.failInternal(invariant.Violated("slot %d of segment %d handed out while a record occupies it", slot, id))
		}
		tx.reserved = append(tx.reserved, recKey{id, slot})
	} else {
		slot = tx.newNext[id]
		tx.newNext[id]++
	}
	return slot, nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// lookup returns the record seg, id in the transaction's view, and the
// version it has in the latest commit.
func (tx *Tx) lookup(seg string, id RecordID) (recKey, []byte, uint32, error) {
	sid, existing, err := tx.segID(seg)
	if err != nil {
		return recKey{}, nil, 0, err
	}
	n, ok := id.slot()
	if !ok {
		return recKey{}, nil, 0, fmt.Errorf("%w: %v", ErrRecordNotFound, id)
	}
	return tx.lookupIn(sid, existing, n)
}

// lookupIn is lookup of slot n of segment sid, which existed before the
// transaction if existing.
func (tx *Tx) lookupIn(sid uint64, existing bool, n uint64) (recKey, []byte, uint32, error) {
	id := idOfSlot(n)
	k := recKey{sid, n}
	if w := tx.writes[k]; w != nil {
		if w.kind == journal.KindDelete {
			return k, nil, 0, fmt.Errorf("%w: %v", ErrRecordNotFound, id)
		}
		return k, w.data, w.base, nil
	}
	if !existing {
		return k, nil, 0, fmt.Errorf("%w: %v", ErrRecordNotFound, id)
	}
	v, err := tx.db.pin()
	if err != nil {
		return k, nil, 0, err
	}
	defer tx.db.unpin(v)
	var data []byte
	var sl segment.Slot
	if _, s := v.segByID(sid); s != nil {
		data, sl, err = tx.db.readRecord(s, n)
	} else {
		err = ErrRecordNotFound
	}
	if err != nil {
		if err == ErrRecordNotFound {
			err = fmt.Errorf("%w: %v", ErrRecordNotFound, id)
		}
		return k, nil, 0, err
	}
	return k, data, sl.Version, nil
}

// Read returns a copy of record id of segment seg.
func (tx *Tx) Read(seg string, id RecordID) ([]byte, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	k, data, ver, err := tx.lookup(seg, id)
	if err != nil {
		return nil, err
	}
	if tx.writes[k] == nil {
		if _, seen := tx.reads[k]; !seen {
			tx.reads[k] = ver
		}
		return data, nil
	}
	return bytes.Clone(data), nil
}

// Update replaces the content of record id of segment seg. data is copied.
func (tx *Tx) Update(seg string, id RecordID, data []byte) error {
	if err := tx.check(); err != nil {
		return err
	}
	if err := checkRecord(data); err != nil {
		return err
	}
	k, _, ver, err := tx.lookup(seg, id)
	if err != nil {
		return err
	}
	if w := tx.writes[k]; w != nil {
		w.data = bytes.Clone(nonNil(data))
		return nil
	}
	if rv, seen := tx.reads[k]; seen {
		ver = rv
	}
	tx.writes[k] = &txWrite{kind: journal.KindUpdate, data: bytes.Clone(nonNil(data)), base: ver}
	return nil
}

// Delete deletes record id of segment seg.
func (tx *Tx) Delete(seg string, id RecordID) error {
	if err := tx.check(); err != nil {
		return err
	}
	k, _, ver, err := tx.lookup(seg, id)
	if err != nil {
		return err
	}
	if w := tx.writes[k]; w != nil {
		if w.kind == journal.KindInsert {
			delete(tx.writes, k) // its reservation goes back at the end
		} else {
			w.kind, w.data = journal.KindDelete, nil
		}
		return nil
	}
	if rv, seen := tx.reads[k]; seen {
		ver = rv
	}
	tx.writes[k] = &txWrite{kind: journal.KindDelete, base: ver}
	return nil
}

// Scan returns the records of segment seg in id order, as the transaction
// sees them. An error ends the sequence as its last pair.
func (tx *Tx) Scan(seg string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		if err := tx.check(); err != nil {
			yield(Record{}, err)
			return
		}
		sid, existing, err := tx.segID(seg)
		if err != nil {
			yield(Record{}, err)
			return
		}
		var own []uint64
		for k := range tx.writes {
			if k.seg == sid {
				own = append(own, k.slot)
			}
		}
		slices.Sort(own)
		var base *segState
		v, err := tx.db.pin()
		if err != nil {
			yield(Record{}, err)
			return
		}
		defer tx.db.unpin(v)
		if existing {
			_, base = v.segByID(sid)
		}
		scanMerge(tx.db, base, own, func(n uint64) ([]byte, bool) {
			w := tx.writes[recKey{sid, n}]
			if w == nil || w.kind == journal.KindDelete {
				return nil, false
			}
			return bytes.Clone(w.data), true
		}, yield)
	}
}

// scanMerge yields the live records of base merged, in slot order, with
// the slots own that a transaction changed (data false: deleted).
func scanMerge(db *DB, base *segState, own []uint64, data func(uint64) ([]byte, bool), yield func(Record, error) bool) {
	var end uint64
	if base != nil {
		end = uint64(len(base.pages)) * segment.SlotsPerPage
	}
	oi := 0
	var batch []Record
	for n := uint64(0); ; n++ {
		for oi < len(own) && own[oi] < n {
			oi++
		}
		if n >= end {
			if oi >= len(own) {
				return
			}
			n = own[oi]
		}
		if oi < len(own) && own[oi] == n {
			if d, ok := data(n); ok && !yield(Record{idOfSlot(n), d}, nil) {
				return
			}
			continue
		}
		stop := min(end, (n/segment.SlotsPerPage+1)*segment.SlotsPerPage)
		if oi < len(own) {
			stop = min(stop, own[oi])
		}
		var err error
		batch, n, err = db.readRun(base, n, stop, batch[:0])
		for i, r := range batch {
			if i > 0 && db.isShut() {
				// Closed while the scan yielded what it had read: from
				// then on it fails, as every read does.
				yield(Record{}, ErrClosed)
				return
			}
			if !yield(r, nil) {
				return
			}
		}
		if err != nil {
			yield(Record{}, err)
			return
		}
		n-- // the loop's n++ goes to the first slot not read
	}
}

// isShut reports whether Close has released the file.
func (db *DB) isShut() bool {
	return db.shutNow.Load()
}

// scanBatchBytes bounds the record bytes readRun reads in one call.
const scanBatchBytes = 256 << 10

// readRun reads the live records of base's slots from from up to stop,
// under one hold of the views lock and one fault guard rather than one
// per record, appending them to out, and stops early once
// scanBatchBytes of records are read. It returns the records and the
// first slot it did not read; on an error, the records read before it.
func (db *DB) readRun(base *segState, from, stop uint64, out []Record) ([]Record, uint64, error) {
	n, size := from, 0
	err := db.fromFile(func() error {
		// One address page at a time: the caller goes on from n.
		stop = min(stop, (n/segment.SlotsPerPage+1)*segment.SlotsPerPage)
		if n >= stop || n/segment.SlotsPerPage >= uint64(len(base.pages)) {
			return nil
		}
		pv, err := base.view(db.s, n/segment.SlotsPerPage)
		if err != nil {
			return err
		}
		rd := segment.Reader{S: db.s}
		for ; n < stop && size < scanBatchBytes; n++ {
			sl, err := pv.slot(int(n % segment.SlotsPerPage))
			if err != nil {
				return err
			}
			if !sl.Live {
				continue
			}
			var d []byte
			if sl.Pending != nil {
				d = slices.Clone(sl.Pending)
			} else if d, err = rd.Read(sl.Data, sl.Entry, base.id, n); err != nil {
				return err
			}
			out = append(out, Record{idOfSlot(n), d})
			size += len(d)
		}
		return nil
	})
	return out, n, err
}

// Rollback ends the transaction, discarding its changes.
func (tx *Tx) Rollback() error {
	if tx.done {
		return ErrTxDone
	}
	tx.finish()
	return nil
}

// finish ends the transaction and gives back the slots it reserved and
// did not fill.
func (tx *Tx) finish() {
	tx.done = true
	db := tx.db
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, k := range tx.reserved {
		// A slot whose state cannot be read (the database closed, or
		// its page corrupt) is not handed out again.
		if a := db.slots[k.seg]; a != nil {
			if live, err := db.slotLive(k); err == nil && !live {
				a.give(k.slot)
			}
		}
	}
	tx.reserved = nil
}

// slotLive reports whether slot k holds a record now. Callers hold mu.
func (db *DB) slotLive(k recKey) (bool, error) {
	_, s := db.cur.segByID(k.seg)
	if s == nil {
		return false, nil
	}
	sl, ok, err := db.slot(s, k.slot)
	return ok && sl.Live, err
}

// plan returns the transaction's changes in journal order (segments
// dropped, segments created, then records by segment and slot) and the
// locks its prepare takes, in key order.
func (tx *Tx) plan() ([]op, []lockReq) {
	var ops []op
	locks := map[string]lockReq{}
	lock := func(key string, exclusive, noWait bool) {
		if l, ok := locks[key]; ok {
			exclusive = exclusive || l.exclusive
			noWait = noWait || l.noWait
		}
		locks[key] = lockReq{key: key, exclusive: exclusive, noWait: noWait}
	}
	for _, name := range sortedKeys(tx.drops) {
		id := tx.drops[name]
		ops = append(ops, op{kind: journal.KindDropSegment, seg: id, name: name})
		lock("n"+name, true, false)
		lock(segKey(id), true, false)
	}
	for _, name := range sortedKeys(tx.creates) {
		ops = append(ops, op{kind: journal.KindCreateSegment, seg: tx.creates[name], name: name})
		lock("n"+name, true, true)
	}
	keys := make([]recKey, 0, len(tx.writes)+len(tx.nodes))
	for k := range tx.writes {
		keys = append(keys, k)
	}
	for k := range tx.nodes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpRecKey)
	// The records written take exclusive locks, one each and in key
	// order already (the keys' bytes sort as the numbers do): they skip
	// the map and the sort, which for a commit of many records cost more
	// than the rest of its planning.
	written := make([]lockReq, 0, len(keys))
	lastSeg := uint64(0)
	for i, k := range keys {
		w := tx.writes[k]
		if w == nil {
			w = tx.nodes[k]
		}
		ops = append(ops, op{kind: w.kind, seg: k.seg, slot: k.slot, data: w.data})
		if i == 0 || k.seg != lastSeg {
			lock(segKey(k.seg), false, false)
			lastSeg = k.seg
		}
		if i == 0 || k != keys[i-1] {
			written = append(written, lockReq{key: recLockKey(k), exclusive: true})
		}
	}
	if tx.strategy == VersionOnRead {
		for k := range tx.reads {
			lock(segKey(k.seg), false, false)
			if tx.writes[k] == nil && tx.nodes[k] == nil {
				lock(recLockKey(k), false, false) // else written's exclusive lock covers it
			}
		}
	}
	for _, ti := range tx.idx {
		lock(segKey(ti.seg), false, false)
		for _, key := range ti.pend.Keys() {
			lock(keyLock(ti.seg, key), true, false)
		}
		if tx.strategy == VersionOnRead {
			for key := range ti.seen {
				lock(keyLock(ti.seg, key), false, false)
			}
		}
	}
	others := make([]lockReq, 0, len(locks))
	for _, l := range locks {
		others = append(others, l)
	}
	slices.SortFunc(others, func(a, b lockReq) int { return strings.Compare(a.key, b.key) })
	return ops, mergeLocks(others, written)
}

// mergeLocks merges two lists of locks, each in key order and with no
// key in both, into one in key order.
func mergeLocks(a, b []lockReq) []lockReq {
	if len(a) == 0 {
		return b
	}
	out := make([]lockReq, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].key < b[0].key {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

func cmpRecKey(a, b recKey) int {
	if a.seg != b.seg {
		return cmpU64(a.seg, b.seg)
	}
	return cmpU64(a.slot, b.slot)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Lock keys are a kind byte and big-endian numbers, so that their byte
// order, the order prepares take them in, is the numbers' order. Name
// locks are "n" and the name.

// segKey is the lock of segment id.
func segKey(id uint64) string {
	return string(binary.BigEndian.AppendUint64([]byte{'s'}, id))
}

// recLockKey is the lock of record slot k.
func recLockKey(k recKey) string {
	b := make([]byte, 1, 17)
	b[0] = 'r'
	b = binary.BigEndian.AppendUint64(b, k.seg)
	return string(binary.BigEndian.AppendUint64(b, k.slot))
}

// validate checks the transaction against the latest commit, under its
// locks.
func (tx *Tx) validate() error {
	db := tx.db
	db.mu.Lock()
	defer db.mu.Unlock()
	v := db.cur
	for name, id := range tx.drops {
		if s := v.seg(name); s == nil || s.id != id {
			return fmt.Errorf("%w: %q", ErrSegmentNotFound, name)
		}
	}
	for name := range tx.creates {
		if _, dropped := tx.drops[name]; v.seg(name) != nil && !dropped {
			return existsError(name)
		}
	}
	for k, w := range tx.writes {
		if _, created := tx.newNext[k.seg]; created {
			continue
		}
		_, s := v.segByID(k.seg)
		if s == nil {
			return fmt.Errorf("%w: segment %d", ErrSegmentNotFound, k.seg)
		}
		sl, ok, err := db.slot(s, k.slot)
		if err != nil {
			return err
		}
		if w.kind == journal.KindInsert {
			if ok && sl.Live {
				return fmt.Errorf("persy: slot %v of segment %d handed out while in use", idOfSlot(k.slot), k.seg)
			}
			continue
		}
		if !ok || !sl.Live {
			return fmt.Errorf("%w: %v", ErrRecordNotFound, idOfSlot(k.slot))
		}
		if w.checked && sl.Version != w.base {
			return errRetry
		}
		if tx.strategy != LastWin && sl.Version != w.base {
			return fmt.Errorf("%w: %v", ErrVersionNotLatest, idOfSlot(k.slot))
		}
	}
	if err := tx.validateIndexes(v); err != nil {
		return err
	}
	if tx.strategy == VersionOnRead {
		for k, ver := range tx.reads {
			_, s := v.segByID(k.seg)
			var sl segment.Slot
			ok := false
			if s != nil {
				var err error
				if sl, ok, err = db.slot(s, k.slot); err != nil {
					return err
				}
			}
			if !ok || sl.Version != ver {
				return fmt.Errorf("%w: %v", ErrVersionNotLatest, idOfSlot(k.slot))
			}
		}
	}
	return nil
}

// errNotBegun is the error of a Tx that no Begin made.
var errNotBegun = errors.New("persy: a transaction not started by DB.Begin")

// existsError is the error for a create of segment name, which exists.
func existsError(name string) error {
	if strings.HasPrefix(name, indexPrefix) {
		return fmt.Errorf("%w: %q", ErrIndexExists, name[len(indexPrefix):])
	}
	return fmt.Errorf("%w: %q", ErrSegmentExists, name)
}

// errRetry says that an index node a prepare edited changed before the
// prepare locked it: the prepare edits the tree again.
var errRetry = errors.New("persy: an index node changed under the prepare")

// maxIndexRetries bounds the edits of one prepare: each retry follows
// another transaction's commit, so this many mean a livelock.
const maxIndexRetries = 1000

// lockAndValidate takes the transaction's locks and validates it. On
// failure the transaction is over.
func (tx *Tx) lockAndValidate() ([]op, []lockReq, error) {
	for attempt := 0; ; attempt++ {
		if err := tx.planIndexes(); err != nil {
			tx.finish()
			return nil, nil, err
		}
		ops, locks := tx.plan()
		if err := tx.db.locks.acquire(locks, tx.db.opts.LockTimeout); err != nil {
			tx.finish()
			if b, ok := err.(*busyError); ok {
				return nil, nil, fmt.Errorf("%w: another transaction creates or drops it", existsError(b.key[1:]))
			}
			return nil, nil, err
		}
		err := tx.validate()
		if err == nil {
			return ops, locks, nil
		}
		tx.db.releaseLocks(locks)
		if err != errRetry || attempt == maxIndexRetries {
			tx.finish()
			if err == errRetry {
				err = fmt.Errorf("%w: index nodes changed under %d prepares in a row", ErrTimeout, attempt+1)
			}
			return nil, nil, err
		}
	}
}

// Commit commits the transaction in one phase: its changes and its
// commit reach the journal behind a single barrier (shared with other
// commits under way), unless the transaction syncs in background.
func (tx *Tx) Commit() error {
	if err := tx.check(); err != nil {
		return err
	}
	ops, locks, err := tx.lockAndValidate()
	if err != nil {
		return err
	}
	defer tx.db.releaseLocks(locks)
	defer tx.finish()
	if len(ops) == 0 {
		if tx.bg {
			return nil
		}
		// Nothing to journal, but a commit that returns says every
		// commit before it is durable, background ones included.
		return tx.db.Sync()
	}
	return tx.db.submit(&commitReq{kind: reqCommit, ops: ops, id: tx.id, background: tx.bg})
}

// Prepared is a transaction prepared for two-phase commit: durable and
// undecided. Its locks are held until Commit or Rollback.
type Prepared struct {
	tx    *Tx
	jtx   uint64
	ops   []op
	locks []lockReq
	done  bool
}

// Prepare validates the transaction, takes its locks and makes it durable
// as prepared: after a crash recovery finds it and the caller decides.
// On failure the transaction is over.
func (tx *Tx) Prepare() (*Prepared, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	ops, locks, err := tx.lockAndValidate()
	if err != nil {
		return nil, err
	}
	r := &commitReq{kind: reqPrepare, ops: ops, id: tx.id}
	if err := tx.db.submit(r); err != nil {
		tx.db.releaseLocks(locks)
		tx.finish()
		return nil, err
	}
	tx.done = true
	return &Prepared{tx: tx, jtx: r.jtx, ops: ops, locks: locks}, nil
}

// Commit commits the prepared transaction. With no room in the file for
// the decision (an error wrapping ENOSPC), nothing changes: the
// transaction stays prepared, and Commit or Rollback may be called again.
func (p *Prepared) Commit() error {
	return p.decide(reqDecideCommit)
}

// Rollback rolls the prepared transaction back; with no room for the
// decision, as Commit.
func (p *Prepared) Rollback() error {
	return p.decide(reqDecideRollback)
}

func (p *Prepared) decide(kind reqKind) error {
	if p.done {
		return ErrTxDone
	}
	err := p.tx.db.submit(&commitReq{kind: kind, jtx: p.jtx, ops: p.ops})
	if errors.Is(err, journal.ErrNoRoom) {
		// Nothing was written: still prepared, with its slots and
		// locks, for a decision once there is room.
		return err
	}
	p.done = true
	// Slots go back before the locks: a transaction waiting on them may
	// free the same slots.
	p.tx.finish()
	p.tx.db.releaseLocks(p.locks)
	return err
}

// Update runs fn in a transaction and commits it; if fn returns an error
// or panics, the transaction is rolled back (and the panic goes on).
func (db *DB) Update(fn func(tx *Tx) error) (err error) {
	tx, err := db.Begin(TxOptions{})
	if err != nil {
		return err
	}
	defer func() {
		if !tx.done {
			tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// View runs fn on a snapshot, closed when fn returns.
func (db *DB) View(fn func(s *Snapshot) error) error {
	s, err := db.snapshot() // closed below, whatever fn does
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}
