package txn

import (
	"errors"
	"fmt"

	"github.com/gopersy/persy/internal/invariant"
	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/page"
)

// busyError is a name lock held by another prepared transaction.
type busyError struct{ key string }

func (e *busyError) Error() string { return "persy: lock busy: " + e.key }

type reqKind uint8

const (
	reqCommit         reqKind = iota + 1 // a one-phase commit: changes, then a commit entry, no prepare
	reqPrepare                           // changes and prepare
	reqDecideCommit                      // the commit of a prepared transaction
	reqDecideRollback                    // the rollback of a prepared transaction
)

// commitReq is one transaction's turn in the group commit.
type commitReq struct {
	kind       reqKind
	ops        []op
	id         []byte
	jtx        uint64 // journal number: set by the leader for new transactions
	background bool

	err  error
	done bool
}

// submit queues r and waits for a leader, perhaps itself, to journal it
// with the others queued, behind one barrier.
func (db *DB) submit(r *commitReq) error {
	db.mu.Lock()
	if err := db.stateErr(); err != nil {
		db.mu.Unlock()
		return err
	}
	db.queue = append(db.queue, r)
	for !r.done {
		if db.leading {
			db.cond.Wait()
			continue
		}
		db.leading = true
		batch := db.queue
		db.queue = nil
		db.mu.Unlock()
		db.wmu.Lock()
		db.process(batch)
		db.wmu.Unlock()
		db.mu.Lock()
		db.leading = false
		for _, b := range batch {
			b.done = true
		}
		db.cond.Broadcast()
	}
	db.mu.Unlock()
	return r.err
}

// process journals batch behind one barrier, then applies its commits in
// order. Each commit is applied to the new version before anything is
// journaled: a request whose changes do not fit fails alone, and nothing
// the journal holds can fail to apply at recovery. The caller holds wmu.
//
// Where the file has no room for the batch's journal pages, or for the
// checkpoint after them (see ckptHold), nothing is written: a
// checkpoint, which may use the ballast, frees the journal's pages and
// those deletes gave back, and the batch is tried once more;
// if it still does not fit, every request fails with the error (wrapping
// ENOSPC on a full disk) and the database goes on.
func (db *DB) process(batch []*commitReq) {
	if !db.processOnce(batch) || db.checkpoint() != nil {
		return // with no room for the checkpoint either, the errors stand
	}
	for _, r := range batch {
		r.err = nil
	}
	db.processOnce(batch)
}

// processOnce is process without the retry: it reports whether the
// batch found no room, with nothing written and every request's error
// set.
func (db *DB) processOnce(batch []*commitReq) (noRoom bool) {
	setAll := func(err error) {
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
		}
	}
	db.mu.Lock()
	err := db.stateErr()
	work := db.cur
	db.mu.Unlock()
	if err != nil {
		setAll(err)
		return false
	}
	type applied struct {
		r  *commitReq
		fx effects
		nv *version
	}
	var todo []applied
	background := true
	mark := db.jw.Mark()
	for _, r := range batch {
		a := applied{r: r}
		if r.kind == reqCommit || r.kind == reqDecideCommit {
			nv, fx, err := db.apply(work, work.seq+1, r.ops)
			if err != nil {
				r.err = fmt.Errorf("persy: the transaction does not apply: %w", err)
				continue
			}
			work, a.nv, a.fx = nv, nv, fx
		}
		if err := db.journalReq(r); err != nil {
			// Entries are checked before they are queued: an entry the
			// journal refuses now is a bug, and the journal's buffer
			// may hold part of the transaction.
			setAll(db.fail(err))
			return false
		}
		todo = append(todo, a)
		background = background && r.background
	}
	if len(todo) == 0 {
		return false
	}
	// The room for the checkpoint after the batch is kept too; a batch
	// that only frees (deletes, drops, rollbacks) may use the ballast
	// for it, so that space can be freed on a full disk.
	// A decision journals one entry and is not held to it: its changes
	// were journaled when it was prepared, and recovery must be able to
	// decide on a full disk.
	fxs := make([]effects, 0, len(todo))
	freeing, deciding := true, false
	for _, a := range todo {
		fxs = append(fxs, a.fx)
		freeing = freeing && onlyFrees(a.r.ops)
		deciding = deciding || a.r.kind == reqDecideCommit || a.r.kind == reqDecideRollback
	}
	var ahead page.Need
	if !deciding {
		ahead = db.checkpointRoom(work, fxs)
	}
	err = db.jw.Room(ahead, freeing)
	if err == nil && background {
		err = db.jw.Write()
	} else if err == nil {
		err = db.jw.Flush()
	}
	if errors.Is(err, journal.ErrNoRoom) {
		// Nothing was written: the entries go, the versions applied
		// are dropped, and the database is as before the batch.
		db.jw.Rewind(mark)
		setAll(fmt.Errorf("persy: no room in the file for the commit: %w", err))
		return true
	}
	if err != nil {
		setAll(db.fail(err))
		return false
	}
	db.unsynced = background
	var broken error
	db.mu.Lock()
	for _, a := range todo {
		if a.nv != nil {
			// Each commit applies to the version before it in the
			// batch, the first to the version current when the batch
			// began: any other version current now means one was
			// published behind the batch's back, and publishing
			// over it would lose its commits.
			if a.nv.seq != db.cur.seq+1 {
				broken = fmt.Errorf("version %d published over version %d: a commit adds exactly one", a.nv.seq, db.cur.seq)
				break
			}
			db.cur = a.nv
			db.noteEffects(a.fx, a.nv.seq)
		}
		switch a.r.kind {
		case reqPrepare:
			db.prepared[a.r.jtx] = &preparedTx{jtx: a.r.jtx, id: a.r.id, ops: a.r.ops}
		case reqDecideCommit, reqDecideRollback:
			if a.r.kind == reqDecideCommit || !mutant.On(mutant.RollbackKeepsJournal) {
				delete(db.prepared, a.r.jtx)
			}
		}
	}
	db.mu.Unlock()
	if broken != nil {
		setAll(db.failInternal(invariant.Violated("%v", broken)))
		return false
	}
	if background && db.bgWake != nil {
		select {
		case db.bgWake <- struct{}{}:
		default:
		}
	}
	// The batch is durable (or, in background, written): a checkpoint
	// failing now stops the database but takes nothing back.
	_ = db.maybeCheckpoint()
	return false
}

// onlyFrees reports whether ops only delete records and drop segments.
func onlyFrees(ops []op) bool {
	for _, o := range ops {
		if o.kind != journal.KindDelete && o.kind != journal.KindDropSegment {
			return false
		}
	}
	return true
}

// journalReq appends r's entries.
func (db *DB) journalReq(r *commitReq) error {
	appendE := func(e journal.Entry) error {
		_, err := db.jw.Append(e)
		return err
	}
	switch r.kind {
	case reqCommit, reqPrepare:
		r.jtx = db.jw.End()
		if err := appendE(journal.Entry{Kind: journal.KindStart, Tx: r.jtx}); err != nil {
			return err
		}
		for _, o := range r.ops {
			if err := appendE(o.entry(r.jtx)); err != nil {
				return err
			}
		}
		if r.kind == reqCommit && !mutant.On(mutant.OnePhasePrepared) {
			// A one-phase commit is never in doubt: no Prepare entry,
			// so a crash before its Commit entry is durable leaves a
			// transaction that never happened, not one to decide. Its
			// id rides on the Commit entry.
			return appendE(journal.Entry{Kind: journal.KindCommit, Tx: r.jtx, Data: r.id})
		}
		if err := appendE(journal.Entry{Kind: journal.KindPrepare, Tx: r.jtx, Data: r.id}); err != nil {
			return err
		}
		if r.kind == reqCommit {
			return appendE(journal.Entry{Kind: journal.KindCommit, Tx: r.jtx})
		}
		return nil
	case reqDecideCommit:
		return appendE(journal.Entry{Kind: journal.KindCommit, Tx: r.jtx})
	case reqDecideRollback:
		return appendE(journal.Entry{Kind: journal.KindRollback, Tx: r.jtx})
	}
	return fmt.Errorf("persy: request kind %d", r.kind)
}

// noteEffects records what an apply did for the checkpoint and the slot
// allocators. The caller holds wmu and mu.
func (db *DB) noteEffects(fx effects, seq uint64) {
	db.hold.note(fx, db.dirty, db.disk)
	for _, r := range fx.superseded {
		db.superseded = append(db.superseded, retainedPage{r, seq})
	}
	for _, r := range fx.packsLeft {
		db.packsLeft[r.Addr] = packLeft{r, seq}
	}
	for _, k := range fx.dirty {
		db.dirty[k] = true
	}
	for _, id := range fx.created {
		if db.slots[id] == nil {
			db.slots[id] = &slotAlloc{}
		}
		db.nextSeg = max(db.nextSeg, id+1)
	}
	for _, id := range fx.dropped {
		delete(db.slots, id)
		db.dropped = append(db.dropped, id)
	}
	for _, k := range fx.freedSlots {
		if a := db.slots[k.seg]; a != nil {
			a.give(k.page)
		}
	}
	for _, k := range fx.inserted {
		if a := db.slots[k.seg]; a != nil && a.next <= k.page {
			// A slot no reservation took: a transaction's own new
			// segment, or a commit recovery redoes.
			for n := a.next; n < k.page; n++ {
				a.give(n)
			}
			a.next = k.page + 1
		}
	}
}
