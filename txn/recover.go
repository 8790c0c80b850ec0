package txn

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/segment"
)

// Recovery is a database opened up to the decisions on its prepared
// transactions. Transactions lists what the journal holds; Commit and
// Rollback decide the prepared ones; Finish applies the decisions, decides
// the rest with Options.OnPrepared and opens the database.
//
// Recovery is crash-safe and idempotent: a crash during Finish leaves
// every decision either made or still open, and recovering again goes on
// from there.
type Recovery struct {
	db       *DB
	txs      []*recoveredTx // in journal order
	redone   bool
	finished bool
}

type recoveredTx struct {
	jtx       uint64
	id        []byte
	status    Status
	committed bool // a commit entry was read
	prepared  bool
	rolled    bool
	commitLSN uint64
	ops       []op // for those undecided or redone
	decision  *Decision
}

// RecoveredTx is a transaction recovery found in the journal.
type RecoveredTx struct {
	ID     []byte
	Status Status
}

// Recover opens the database held in s, which must hold one, up to the
// decisions on its prepared transactions.
//
// s belongs to the recovery from the call on, whatever its outcome: the
// database Finish returns closes it at its Close, Recovery.Close closes
// it, and Recover and Finish close it when they fail. The caller never
// closes it (a second Close does nothing).
func Recover(s mmapfile.Storage, opts Options) (*Recovery, error) {
	var rec *Recovery
	var err error
	if ferr := mmapfile.Protect(func() { rec, err = recoverStorage(s, opts) }); ferr != nil {
		err = ferr
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return rec, nil
}

func recoverStorage(s mmapfile.Storage, opts Options) (*Recovery, error) {
	st, err := page.Load(s)
	if err != nil {
		return nil, err
	}
	if st.JournalHead == 0 {
		return nil, &CorruptError{Page: page.RootAddr, Reason: "the root state names no journal"}
	}
	// Before anything else is written: no torn root copy left by a crash
	// may be completed by a later root write. A read-only open writes
	// nothing, and so need not.
	if !opts.ReadOnly {
		if _, err := page.Scrub(s, st); err != nil {
			return nil, err
		}
	}
	db := newDB(s, opts)
	db.alloc = page.NewAllocator(s, st)
	db.durable = st
	cat, catRefs, err := segment.ReadCatalog(s, st.Catalog, st.End)
	if err != nil {
		return nil, err
	}
	db.catPages = catRefs
	db.nextSeg = max(cat.NextSegment, 1)
	v := &version{}
	for _, e := range cat.Segments {
		seg := &segState{id: e.ID, name: e.Name, pages: onDisk(e.Pages)}
		i, dup := v.find(e.Name)
		if dup {
			return nil, &CorruptError{Page: st.Catalog.Addr, Reason: fmt.Sprintf("segment %q twice in the catalogue", e.Name)}
		}
		v.segs = slices.Insert(v.segs, i, seg)
		db.disk[e.ID] = e.Pages
	}
	for _, r := range cat.Retained {
		db.retained = append(db.retained, retainedPage{ref: r})
	}
	db.resetHold()
	db.cur = v

	// First pass: what became of each transaction.
	rec := &Recovery{db: db}
	byTx := map[uint64]*recoveredTx{}
	tail, err := journal.Read(s, st, func(lsn uint64, e journal.Entry) error {
		t := byTx[e.Tx]
		if e.Kind == journal.KindStart {
			if t != nil || e.Tx != lsn {
				return &CorruptError{Page: st.JournalHead, Reason: fmt.Sprintf("journal: transaction %d starts at LSN %d", e.Tx, lsn)}
			}
			t = &recoveredTx{jtx: lsn}
			byTx[lsn] = t
			rec.txs = append(rec.txs, t)
			return nil
		}
		if t == nil {
			return nil // a transaction the head was trimmed past: decided
		}
		switch e.Kind {
		case journal.KindPrepare:
			t.prepared, t.id = true, bytes.Clone(e.Data)
		case journal.KindCommit:
			if !t.committed {
				t.committed, t.commitLSN = true, lsn
			}
			if !t.prepared {
				t.id = bytes.Clone(e.Data) // a one-phase commit's
			}
		case journal.KindRollback:
			t.rolled = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range rec.txs {
		switch {
		case t.committed && t.commitLSN < st.Checkpoint && !mutant.On(mutant.CheckpointedRedone):
			t.status = StatusCleaned
		case t.committed:
			t.status = StatusCommitted
		case t.rolled:
			t.status = StatusRolledBack
		case t.prepared:
			t.status = StatusPrepared
		default:
			t.status = StatusStarted
		}
	}
	// Second pass: redo the commits after the checkpoint, in commit
	// order, and keep the changes of the undecided.
	_, err = journal.Read(s, st, func(lsn uint64, e journal.Entry) error {
		t := byTx[e.Tx]
		if t == nil || (t.status != StatusCommitted && t.status != StatusPrepared) {
			return nil
		}
		if o, ok := opOf(e); ok {
			t.ops = append(t.ops, o)
			return nil
		}
		if e.Kind == journal.KindCommit && lsn == t.commitLSN {
			if err := db.redo(t.ops); err != nil {
				return &CorruptError{Page: st.JournalHead, Reason: fmt.Sprintf("journal: transaction at LSN %d: %v", t.jtx, err)}
			}
			t.ops = nil
			rec.redone = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// A journal trimmed to its end by the last checkpoint has no page to
	// read its position from: it goes on from the checkpoint's LSN, so
	// that LSNs never go back.
	if tail.EndLSN < st.Checkpoint {
		if tail.Entries > 0 {
			return nil, &CorruptError{Page: st.JournalHead, Reason: fmt.Sprintf("journal ends at LSN %d, before the checkpoint at %d", tail.EndLSN, st.Checkpoint)}
		}
		tail.EndLSN = st.Checkpoint
	}
	if opts.ReadOnly {
		db.jw, err = journal.OpenReadOnly(s, db.alloc, st, tail)
	} else {
		db.jw, err = journal.Open(s, db.alloc, st, tail, db.journalCommit)
	}
	if err != nil {
		return nil, err
	}
	db.rebuildSlots()
	return rec, nil
}

// redo applies a committed transaction's changes during recovery.
func (db *DB) redo(ops []op) error {
	nv, fx, err := db.apply(db.cur, db.cur.seq+1, ops)
	if err != nil {
		return err
	}
	db.cur = nv
	db.noteEffects(fx, nv.seq)
	return nil
}

// rebuildSlots builds each segment's slot allocator from the current
// version: every empty slot is free, found as the allocator needs it.
func (db *DB) rebuildSlots() {
	db.slots = map[uint64]*slotAlloc{}
	for _, s := range db.cur.segs {
		n := uint64(len(s.pages))
		db.slots[s.id] = &slotAlloc{next: n * segment.SlotsPerPage, pages: n}
	}
}

// Transactions returns the transactions the journal holds, in the order
// they started.
func (r *Recovery) Transactions() []RecoveredTx {
	out := make([]RecoveredTx, len(r.txs))
	for i, t := range r.txs {
		out[i] = RecoveredTx{ID: bytes.Clone(t.id), Status: t.status}
	}
	return out
}

func (r *Recovery) decide(id []byte, d Decision) error {
	if r.finished {
		return ErrTxDone
	}
	if r.db.opts.ReadOnly {
		return ErrReadOnly
	}
	found := false
	for _, t := range r.txs {
		if t.status == StatusPrepared && bytes.Equal(t.id, id) {
			t.decision, found = &d, true
		}
	}
	if !found {
		return fmt.Errorf("%w: %q", ErrUnknownTransaction, id)
	}
	return nil
}

// Commit decides to commit every prepared transaction of id.
func (r *Recovery) Commit(id []byte) error { return r.decide(id, DecideCommit) }

// Rollback decides to roll back every prepared transaction of id.
func (r *Recovery) Rollback(id []byte) error { return r.decide(id, DecideRollback) }

// Close gives up the recovery without deciding or writing anything: it
// closes the storage, which releases a file's lock, and leaves the
// prepared transactions for the next open. After Close the recovery's
// decisions and Finish fail with ErrTxDone; a second Close does nothing.
func (r *Recovery) Close() error {
	if r.finished {
		return nil
	}
	r.finished = true
	return r.db.s.Close()
}

// Finish carries out the decisions, decides the prepared transactions
// left with Options.OnPrepared (commit if nil), writes a checkpoint if
// recovery changed anything, and returns the open database. With
// Options.ReadOnly it decides and writes nothing: the database it opens
// reads what was committed, without the prepared transactions.
func (r *Recovery) Finish() (*DB, error) {
	if r.finished {
		return nil, ErrTxDone
	}
	r.finished = true
	db := r.db
	if db.opts.ReadOnly {
		// Nothing is decided, nothing written: the prepared stay so,
		// and the database lists them as it lists its own.
		for _, t := range r.txs {
			if t.status == StatusPrepared {
				db.prepared[t.jtx] = &preparedTx{jtx: t.jtx, id: bytes.Clone(t.id)}
			}
		}
		return db, nil
	}
	var batch []*commitReq
	for _, t := range r.txs {
		if t.status != StatusPrepared {
			continue
		}
		d := DecideCommit
		switch {
		case t.decision != nil:
			d = *t.decision
		case db.opts.OnPrepared != nil:
			d = db.opts.OnPrepared(bytes.Clone(t.id))
		}
		req := &commitReq{kind: reqDecideRollback, jtx: t.jtx}
		if d == DecideCommit {
			req = &commitReq{kind: reqDecideCommit, jtx: t.jtx, ops: t.ops}
		}
		batch = append(batch, req)
	}
	db.wmu.Lock()
	if len(batch) > 0 {
		// The decided transactions are prepared until their decision
		// is journaled: the checkpoint keeps their journal until then.
		for _, req := range batch {
			db.prepared[req.jtx] = &preparedTx{jtx: req.jtx}
		}
		db.process(batch)
		for _, req := range batch {
			if req.err != nil {
				db.wmu.Unlock()
				db.s.Close()
				return nil, req.err
			}
		}
		// The slots the committed ones filled are taken now.
		db.rebuildSlots()
	}
	var err error
	if !db.clean() {
		// On a full disk the checkpoint waits: the database opens on
		// the journal, which holds what recovery redid.
		if err = db.checkpoint(); errors.Is(err, errNoRoom) {
			err = nil
		}
	}
	db.wmu.Unlock()
	if err != nil {
		db.s.Close()
		return nil, err
	}
	db.start()
	return db, nil
}
