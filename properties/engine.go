package properties

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strings"
	"syscall"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// Engine runs transactions through the public API on the simulated disk:
// one-phase commits synchronous and in background, two-phase commits
// prepared and then committed, rolled back or left undecided, explicit
// background syncs and checkpoints, snapshots read while later commits
// land, and the file closed and opened again, the open deciding the
// prepared transaction left and the run going on over what it recovered.
// Its reference model is a map of segments to records.
//
// After a crash, recovery (deciding each prepared transaction by its id)
// must give the model after some prefix of the journaled events that
// holds every acknowledged one (I1, I2), prepared transactions decided as
// their id says with nothing of a rolled-back one left (I3, I4); Check must
// account for every page (I5); recovering again after a crash inside the
// recovery must give the same state, and a recovery of a recovered file
// must write nothing (I7). Snapshots must read the state at their creation
// (I9); a run on a disk whose syncs fail or which fills up stops without
// acknowledging anything after the failure (I12), which the same check
// covers.
func Engine() sim.Workload {
	return sim.Workload{
		Name:        "engine",
		Description: "transactions, two-phase commits decided at random, background syncs, checkpoints, snapshots and reopens through the public API: recovery gives an acknowledged prefix, Check passes, recovery is idempotent",
		Share:       6,
		New:         func() sim.Program { return &engineWorkload{} },
	}
}

// model is the reference: segment name -> record id -> content.
type model map[string]map[persy.RecordID]string

func (m model) clone() model {
	c := model{}
	for k, v := range m {
		c[k] = maps.Clone(v)
	}
	return c
}

type mop struct {
	kind string // create, drop, insert, update, delete
	seg  string
	id   persy.RecordID
	data string
}

func (m model) apply(ops []mop) {
	for _, o := range ops {
		switch o.kind {
		case "iput", "iremove", "iremoveValue":
			applyIndex(m[o.seg], modeOf(o.seg), o)
		case "create":
			m[o.seg] = map[persy.RecordID]string{}
		case "drop":
			delete(m, o.seg)
		case "insert", "update":
			m[o.seg][o.id] = o.data
		case "delete":
			delete(m[o.seg], o.id)
		}
	}
}

type eventKind uint8

const (
	evCommit eventKind = iota
	evPrepare
	evDecideCommit
	evDecideRollback
)

type event struct {
	kind eventKind
	tx   int
}

type engineWorkload struct {
	// indexes makes transactions change indexes too (EngineIndex); tall
	// holds the indexes whose trees have reached three levels.
	indexes bool
	tall    map[string]bool
	created bool // the file's creation returned
	db      *persy.DB
	txs     [][]mop // each transaction's changes
	ids     []string
	events  []event // in journal order
	acked   int     // events[:acked] are durable
	// lastAck is where acked stood before the last acknowledgement that
	// moved it: events[lastAck:acked] are those the last barrier made
	// durable, which nothing written after it can vouch for yet.
	lastAck int
	started int // events[:started] may be
	// sizes are the record sizes transactions draw from; nil for 0, 9,
	// 700 and 3000 bytes. nearPage among them draws a size just short of
	// what a journal page carries.
	sizes []int
	// base is what the file held when the run started, before the
	// events; copying is set while a prepared file is written in.
	base    model
	copying bool
	// ch makes the run's decisions; m is the model of what it has
	// committed; open is the prepared transaction not yet decided, the
	// openTx-th.
	ch     diskmodel.Chooser
	m      model
	open   *persy.Prepared
	openTx int
	// images are the buffers Check takes its crash images into, reused
	// from one crash state to the next: every disk booted on one is done
	// with when Check returns.
	images [3][]byte
	// lives are the buffers the disks Check boots copy their images
	// into, reused likewise.
	lives [3][]byte
	// disk is the simulated disk the run writes, nil on another
	// storage; barriers the barriers it had made at the last
	// acknowledgement that moved lastAck.
	disk     *diskmodel.Disk
	barriers int64
}

// engineOptions are the options of every open: no clock, no goroutine,
// checkpoints often, prepared transactions decided by the end of their id.
func engineOptions(checkpointBytes int) persy.Options {
	return persy.Options{
		LockTimeout:     -1,
		ManualSync:      true,
		CheckpointBytes: checkpointBytes,
		IndexNodeBytes:  indexNodeBytes,
		OnPrepared: func(id []byte) persy.Decision {
			if openCommits(string(id)) {
				return persy.DecideCommit
			}
			return persy.DecideRollback
		},
	}
}

// openCommits reports how an open decides the prepared transaction id:
// commit, unless the id ends in /rollback.
func openCommits(id string) bool { return !strings.HasSuffix(id, "/rollback") }

func (w *engineWorkload) Run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	err := w.run(s, ch)
	if sim.IsInjected(err) && w.db != nil && errors.Is(err, syscall.ENOSPC) {
		// A full disk stops nothing: the commit that found no room
		// wrote nothing, and the database goes on (Sync reports a
		// database stopped by a storage failure).
		if rerr := w.db.Sync(); rerr != nil && !errors.Is(rerr, syscall.ENOSPC) {
			return fmt.Errorf("%w: a full disk stopped the database: %v, then %v", errWorkload, err, rerr)
		}
		return nil
	}
	if sim.IsInjected(err) && w.db != nil {
		// I12: after a failed barrier or a crash, nothing more is
		// acknowledged.
		if perr := w.db.Update(func(tx *persy.Tx) error { return tx.CreateSegment("probe") }); perr == nil {
			return fmt.Errorf("%w: I12: a commit was acknowledged after the storage failed: %v", errWorkload, err)
		}
	}
	return sim.RunResult(err)
}

// reopener is a storage a process can close and open again.
type reopener interface{ Reopen() error }

// nearPage, as a record size, draws one up to nearPageSpread bytes short
// of the stream a journal page carries. A commit alone in its flush
// starts a journal page, so with such a record its last entries fall on
// either side of the page boundary, or across it, by the bytes drawn:
// where a crash keeps one page and loses the next. Fixed sizes alone
// put the boundary at a few places only, and they may never fall
// between two entries that must not be parted.
const (
	nearPage       = -1
	nearPageSpread = 256
)

// errWorkload marks a violation found while running, not a fault.
var errWorkload = errors.New("engine workload")

func (w *engineWorkload) run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	w.disk, _ = s.(*diskmodel.Disk)
	ckpt := []int{600, 16 << 10, 1 << 20}[ch.Choose("checkpointBytes", 3)]
	db, err := persy.OpenStorage(s, engineOptions(ckpt))
	if err != nil {
		return err
	}
	w.created, w.db = true, db
	if err := txIDLimit(db); err != nil {
		return err
	}
	w.ch, w.m, w.open = ch, model{}, nil
	m := w.m
	for round := range 1 + ch.Choose("rounds", 10) {
		switch ch.Choose("action", 9) {
		case 0, 1, 2: // a one-phase commit
			bg := ch.Choose("background", 3) == 0
			if err := w.commitOne(db, round, persy.TxOptions{BackgroundSync: bg}); err != nil {
				return err
			}
		case 3:
			if err := w.prepareOne(db, round); err != nil {
				return err
			}
		case 4:
			if err := w.decideOne(); err != nil {
				return err
			}
		case 5:
			if err := w.durably(db.Sync); err != nil {
				return err
			}
		case 6:
			if err := w.checkpoint(db); err != nil {
				return err
			}
		case 7: // a snapshot read after later commits and checkpoints
			if err := w.underSnapshot(db, m, ch, round); err != nil {
				return err
			}
		case 8: // the process closes the file, or dies, and opens it again
			d, ok := s.(reopener)
			if !ok {
				continue
			}
			if err := w.restart(s, d, func() (*persy.DB, error) { return persy.OpenStorage(s, engineOptions(ckpt)) }); err != nil {
				return err
			}
			db = w.db
		}
	}
	if ch.Choose("close", 2) == 1 {
		if err := db.Close(); err != nil {
			return err
		}
		w.ack()
	}
	return nil
}

// restart closes the database, or kills its process, closing only its
// handle, and opens it again with open once d reopens: the open decides
// the prepared transaction left open, by its id.
func (w *engineWorkload) restart(handle mmapfile.Storage, d reopener, open func() (*persy.DB, error)) error {
	if w.ch.Choose("kill", 2) == 1 {
		// Killed: the handle goes without a checkpoint or a barrier, and
		// what it wrote stays in the kernel, not yet durable, for the
		// next process to read.
		if err := handle.Close(); err != nil {
			return err
		}
	} else {
		if err := w.db.Close(); err != nil {
			return err
		}
		w.ack()
	}
	if err := d.Reopen(); err != nil {
		return err
	}
	commit := w.open != nil && openCommits(w.ids[w.openTx])
	if w.open != nil { // the open decides it
		kind := evDecideRollback
		if commit {
			kind = evDecideCommit
		}
		w.begin(kind, w.openTx)
	}
	db, err := open()
	if err != nil {
		return err
	}
	w.db = db
	if commit {
		w.m.apply(w.txs[w.openTx])
	}
	w.open = nil
	w.ack()
	return nil
}

// commitOne commits a transaction of up to three changes built on the
// model, synchronously or in background as o says; a transaction that
// meets a prepared one's locks is undone.
func (w *engineWorkload) commitOne(db *persy.DB, round int, o persy.TxOptions) error {
	tx, ops, err := w.buildTx(db, w.m, w.ch, round, o)
	if err != nil {
		return err
	}
	if ok, err := w.commit(tx, ops, string(o.ID), !o.BackgroundSync); !ok {
		return err
	}
	if w.indexes {
		w.trackDepths(db)
	}
	return nil
}

// commit commits tx, whose changes to the model are ops, as event and
// transaction of id, and applies ops to the model; acked says the commit
// is synchronous. A transaction that meets a prepared one's locks is
// undone: it returns false and nil.
func (w *engineWorkload) commit(tx *persy.Tx, ops []mop, id string, acked bool) (bool, error) {
	w.begin(evCommit, len(w.txs))
	w.txs, w.ids = append(w.txs, ops), append(w.ids, id)
	if err := tx.Commit(); err != nil {
		if expected(err) {
			w.undo()
			return false, nil
		}
		return false, err
	}
	w.m.apply(ops)
	if acked {
		w.ack()
	}
	return true, nil
}

// prepareOne prepares a transaction, unless one is open, under an id
// saying how a recovery decides it.
func (w *engineWorkload) prepareOne(db *persy.DB, round int) error {
	if w.open != nil {
		return nil
	}
	id := fmt.Sprintf("p%d/commit", len(w.txs))
	if w.ch.Choose("recoverDecision", 2) == 1 {
		id = fmt.Sprintf("p%d/rollback", len(w.txs))
	}
	tx, ops, err := w.buildTx(db, w.m, w.ch, round, persy.TxOptions{ID: []byte(id)})
	if err != nil {
		return err
	}
	w.begin(evPrepare, len(w.txs))
	w.txs, w.ids = append(w.txs, ops), append(w.ids, id)
	p, err := tx.Prepare()
	if err != nil {
		if expected(err) {
			w.undo()
			return nil
		}
		return err
	}
	w.ack()
	w.open, w.openTx = p, len(w.txs)-1
	return nil
}

// decideOne commits or rolls back the open prepared transaction, if any.
func (w *engineWorkload) decideOne() error {
	if w.open == nil {
		return nil
	}
	commit := w.ch.Choose("decision", 2) == 0
	kind := evDecideRollback
	if commit {
		kind = evDecideCommit
	}
	w.begin(kind, w.openTx)
	p := w.open
	w.open = nil
	var err error
	if commit {
		err = p.Commit()
	} else {
		err = p.Rollback()
	}
	if err != nil {
		return err
	}
	if commit {
		w.m.apply(w.txs[w.openTx])
	}
	w.ack()
	return nil
}

// underSnapshot takes a snapshot, commits up to three transactions to m,
// each perhaps checkpointed, and checks the snapshot still reads m as it
// was (I9).
func (w *engineWorkload) underSnapshot(db *persy.DB, m model, ch diskmodel.Chooser, round int) error {
	snap, err := db.Snapshot()
	if err != nil {
		return err
	}
	defer snap.Close()
	want := m.clone()
	for range 1 + ch.Choose("commitsUnderSnapshot", 3) {
		tx, ops, err := w.buildTx(db, m, ch, round, persy.TxOptions{})
		if err != nil {
			return err
		}
		w.begin(evCommit, len(w.txs))
		w.txs, w.ids = append(w.txs, ops), append(w.ids, "")
		if err := tx.Commit(); err != nil {
			if !expected(err) {
				return err
			}
			w.undo()
		} else {
			m.apply(ops)
			w.ack()
		}
		if ch.Choose("checkpointUnderSnapshot", 2) == 1 {
			if err := db.Checkpoint(); err != nil {
				return err
			}
		}
	}
	got, err := dump(snap)
	if err != nil {
		return fmt.Errorf("I9: reading a snapshot after later commits: %w", err)
	}
	if d := diff(want, got); d != "" {
		return fmt.Errorf("%w: I9: a snapshot reads a state other than at its creation: %s", errWorkload, d)
	}
	return nil
}

// ack records that every event so far is durable. Events acknowledged
// with no barrier since the last acknowledgement (a commit with nothing
// to journal) were made durable by that barrier, and join its group.
func (w *engineWorkload) ack() {
	if len(w.events) <= w.acked {
		return
	}
	if w.disk != nil {
		c := w.disk.Counters()
		if n := c.SyncRanges + c.Syncs; n != w.barriers {
			w.lastAck, w.barriers = w.acked, n
		}
	} else {
		w.lastAck = w.acked
	}
	w.acked = len(w.events)
}

// begin journals an event that may be durable from now on.
func (w *engineWorkload) begin(k eventKind, tx int) {
	w.events = append(w.events, event{k, tx})
	w.started = len(w.events)
}

// undo takes back the last event: its transaction failed before the
// journal.
func (w *engineWorkload) undo() {
	w.events = w.events[:len(w.events)-1]
	w.txs, w.ids = w.txs[:len(w.txs)-1], w.ids[:len(w.ids)-1]
	w.started = len(w.events)
}

// expected reports the errors a transaction may meet here: a prepared
// transaction holds the locks it needs.
func expected(err error) bool {
	return errors.Is(err, persy.ErrTimeout) || errors.Is(err, persy.ErrSegmentExists) || errors.Is(err, persy.ErrIndexExists)
}

var segNames = []string{"a", "b", "c"}

// buildTx starts a transaction and makes up to three changes in it,
// each valid in the transaction's view of m.
func (w *engineWorkload) buildTx(db *persy.DB, m model, ch diskmodel.Chooser, round int, o persy.TxOptions) (*persy.Tx, []mop, error) {
	tx, err := db.Begin(o)
	if err != nil {
		return nil, nil, err
	}
	view := m.clone()
	var ops []mop
	createdAt := map[string]int{} // segments this transaction creates: index of the create
	for i := range 1 + ch.Choose("changes", 3) {
		if w.indexes && ch.Choose("target", 3) != 0 {
			iops, err := w.indexChange(tx, view, ch)
			if err != nil {
				return nil, nil, err
			}
			if len(iops) == 1 && iops[0].kind == "create" {
				createdAt[iops[0].seg] = len(ops)
			}
			if len(iops) == 1 && iops[0].kind == "drop" {
				if at, ok := createdAt[iops[0].seg]; ok {
					ops = dropCreated(ops, at, iops[0].seg)
					delete(createdAt, iops[0].seg)
					view.apply(iops)
					continue
				}
			}
			ops = append(ops, iops...)
			view.apply(iops)
			continue
		}
		seg := segNames[ch.Choose("segment", len(segNames))]
		recs, exists := view[seg]
		data := func() string {
			sizes := w.sizes
			if sizes == nil {
				sizes = []int{0, 9, 700, 3000}
			}
			n := sizes[ch.Choose("size", len(sizes))]
			if n == nearPage {
				n = journal.PageStream - ch.Choose("nearPage", nearPageSpread)
			}
			b := strings.Repeat(fmt.Sprintf("r%d.%d.%d|", len(w.txs), round, i), n/6+1)
			return b[:n]
		}
		var o mop
		switch k := ch.Choose("change", 5); {
		case !exists:
			o = mop{kind: "create", seg: seg}
			err = tx.CreateSegment(seg)
			createdAt[seg] = len(ops)
		case k == 0 && len(recs) > 0:
			o = mop{kind: "drop", seg: seg}
			err = tx.DropSegment(seg)
			if at, ok := createdAt[seg]; ok && err == nil {
				// A segment created and dropped in one transaction
				// leaves nothing: not even a drop of one created
				// meanwhile by another transaction.
				ops = dropCreated(ops, at, seg)
				delete(createdAt, seg)
				view.apply([]mop{o})
				continue
			}
		case k <= 2 || len(recs) == 0:
			o = mop{kind: "insert", seg: seg, data: data()}
			o.id, err = tx.Insert(seg, []byte(o.data))
		default:
			ids := slices.SortedFunc(maps.Keys(recs), cmpID)
			o = mop{kind: "update", seg: seg, id: ids[ch.Choose("record", len(ids))]}
			if k == 3 {
				o.kind = "delete"
				err = tx.Delete(seg, o.id)
				if err == nil && slices.ContainsFunc(ops, func(p mop) bool { return p.kind == "insert" && p.seg == seg && p.id == o.id }) {
					// A record inserted and deleted in one transaction
					// leaves nothing, not even a change of its segment,
					// which another transaction may drop meanwhile.
					ops = slices.DeleteFunc(ops, func(p mop) bool { return p.seg == seg && p.id == o.id && p.kind != "create" && p.kind != "drop" })
					view.apply([]mop{o})
					continue
				}
			} else {
				o.data = data()
				err = tx.Update(seg, o.id, []byte(o.data))
			}
		}
		if err != nil {
			return nil, nil, err
		}
		ops = append(ops, o)
		view.apply([]mop{o})
	}
	return tx, ops, nil
}

// dropCreated takes out of ops the create of seg at ops[at] and every
// change of seg after it.
func dropCreated(ops []mop, at int, seg string) []mop {
	kept := ops[:at:at]
	for _, p := range ops[at+1:] {
		if p.seg != seg {
			kept = append(kept, p)
		}
	}
	return kept
}

func cmpID(a, b persy.RecordID) int {
	if a.Page != b.Page {
		return int(a.Page) - int(b.Page)
	}
	return int(a.Pos) - int(b.Pos)
}

func dump(s *persy.Snapshot) (model, error) {
	m := model{}
	names, err := s.Segments()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		m[n] = map[persy.RecordID]string{}
		for r, err := range s.Scan(n) {
			if err != nil {
				return nil, err
			}
			m[n][r.ID] = string(r.Data)
		}
	}
	return m, dumpIndexes(s, m)
}

func diff(want, got model) string {
	for _, seg := range slices.Sorted(maps.Keys(want)) {
		g, ok := got[seg]
		if !ok {
			return fmt.Sprintf("segment %q missing", seg)
		}
		for _, id := range slices.SortedFunc(maps.Keys(want[seg]), cmpID) {
			if gv, ok := g[id]; !ok || gv != want[seg][id] {
				return fmt.Sprintf("segment %q record %v: want %d bytes, got %d (present %v)", seg, id, len(want[seg][id]), len(gv), ok)
			}
		}
		for _, id := range slices.SortedFunc(maps.Keys(g), cmpID) {
			if _, ok := want[seg][id]; !ok {
				return fmt.Sprintf("segment %q record %v: not in the model", seg, id)
			}
		}
	}
	for _, seg := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[seg]; !ok {
			return fmt.Sprintf("segment %q: not in the model", seg)
		}
	}
	return ""
}

// after returns the model recovery must give if the journal kept
// events[:k]: the commits among them applied in order, then the prepared
// transactions they leave undecided, decided by their id.
func (w *engineWorkload) after(k int) model {
	m := w.base.clone()
	decided := map[int]bool{}
	for _, e := range w.events[:k] {
		switch e.kind {
		case evCommit, evDecideCommit:
			m.apply(w.txs[e.tx])
		}
		if e.kind == evDecideCommit || e.kind == evDecideRollback {
			decided[e.tx] = true
		}
	}
	for _, e := range w.events[:k] {
		if e.kind == evPrepare && !decided[e.tx] && openCommits(w.ids[e.tx]) {
			m.apply(w.txs[e.tx])
		}
	}
	return m
}

// recovered opens s as the check does and returns what it holds. Every
// error it returns is the engine's; the database is left open.
func recovered(s mmapfile.Storage) (*persy.DB, model, error) {
	db, _, m, err := recoveredOffering(s)
	return db, m, err
}

// recoveredOffering is recovered, returning besides the ids of the
// transactions recovery offered as prepared, in the order offered.
func recoveredOffering(s mmapfile.Storage) (*persy.DB, []string, model, error) {
	var offered []string
	opts := engineOptions(0)
	decide := opts.OnPrepared
	opts.OnPrepared = func(id []byte) persy.Decision {
		offered = append(offered, string(id))
		return decide(id)
	}
	db, err := persy.OpenStorage(s, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	snap, err := db.Snapshot()
	if err != nil {
		return db, offered, nil, err
	}
	defer snap.Close()
	m, err := dump(snap)
	if err != nil {
		return db, offered, nil, err
	}
	return db, offered, m, db.Check()
}

// readOnlyReads opens img read-only, as Options.ReadOnly does after a
// crash, and checks that the open writes nothing and, when recovery
// found nothing in doubt (exact), reads want, the state a read-write
// recovery of img gives: a read-only open redoes in memory what recovery
// redoes in the file.
func readOnlyReads(img *diskmodel.Image, profile diskmodel.Profile, want model, exact bool) error {
	writes := 0
	d, err := diskmodel.FromImage(img, diskmodel.Options{Profile: profile, Frozen: true, Yield: func(_ *diskmodel.Disk, op diskmodel.Op) error {
		if op.Kind != diskmodel.OpClose {
			writes++
		}
		return nil
	}})
	if err != nil {
		return err
	}
	opts := engineOptions(0)
	opts.ReadOnly = true
	db, err := persy.OpenStorage(d, opts)
	if err != nil {
		return fmt.Errorf("read-only: opening a file recovery opens: %w", err)
	}
	snap, err := db.Snapshot()
	if err != nil {
		db.Close()
		return err
	}
	got, err := dump(snap)
	snap.Close()
	if err != nil {
		db.Close()
		return fmt.Errorf("read-only: reading: %w", err)
	}
	// The frozen disk's Close finds a store through a view, which would
	// have changed the image other disks boot on.
	if err := db.Close(); err != nil {
		return fmt.Errorf("read-only: closing: %w", err)
	}
	if writes > 0 {
		return fmt.Errorf("read-only: the open made %d writes", writes)
	}
	if d := diff(want, got); exact && d != "" {
		return fmt.Errorf("read-only: the open reads another state than recovery gives: %s", d)
	}
	return nil
}

// txIDLimit checks the limit on transaction ids from both sides: an id
// of MaxTxIDBytes begins, and one a byte longer is refused at Begin
// with ErrTxIDTooLong, before the journal, which cannot hold it, sees it.
func txIDLimit(db *persy.DB) error {
	for _, n := range []int{persy.MaxTxIDBytes, persy.MaxTxIDBytes + 1} {
		tx, err := db.Begin(persy.TxOptions{ID: bytes.Repeat([]byte{'x'}, n)})
		switch {
		case err == nil && n > persy.MaxTxIDBytes:
			tx.Rollback()
			return fmt.Errorf("%w: a transaction id of %d bytes begins, the limit is %d", errWorkload, n, persy.MaxTxIDBytes)
		case err == nil:
			tx.Rollback()
		case n <= persy.MaxTxIDBytes || !errors.Is(err, persy.ErrTxIDTooLong):
			return fmt.Errorf("%w: beginning a transaction of a %d-byte id: %v", errWorkload, n, err)
		}
	}
	return nil
}

// checkpoint runs a checkpoint, which makes every commit so far durable,
// and acknowledges them. With no prepared transaction undecided it
// checks the journal it leaves (I10): a checkpoint frees the journal of
// every transaction it holds or that was rolled back, so the durable
// root state's journal holds no entry; one that keeps pages for a
// transaction no longer in doubt lets the journal grow without bound.
func (w *engineWorkload) checkpoint(db *persy.DB) error {
	if err := w.durably(db.Checkpoint); err != nil {
		return err
	}
	if w.open != nil || w.disk == nil {
		return nil
	}
	st, err := page.Load(w.disk)
	if err != nil {
		return fmt.Errorf("%w: after a checkpoint: %v", errWorkload, err)
	}
	var kept []uint64
	if _, err := journal.Read(w.disk, st, func(lsn uint64, e journal.Entry) error {
		kept = append(kept, lsn)
		return nil
	}); err != nil {
		return fmt.Errorf("%w: reading the journal after a checkpoint: %v", errWorkload, err)
	}
	if len(kept) > 0 {
		return fmt.Errorf("%w: I10: with no transaction in doubt a checkpoint at LSN %d left %d journal entries, from LSN %d", errWorkload, st.Checkpoint, len(kept), kept[0])
	}
	return nil
}

// durably calls f, which makes every commit so far durable (Sync,
// Checkpoint), and acknowledges them when it returns nil.
func (w *engineWorkload) durably(f func() error) error {
	if err := f(); err != nil {
		return err
	}
	w.ack()
	return nil
}

func (w *engineWorkload) Check(r sim.Reboot) error {
	if w.copying {
		return nil // a file being copied in is not the engine's yet
	}
	if r.Storage == nil {
		if w.created {
			return fmt.Errorf("I1: the file is gone after its creation returned")
		}
		return nil
	}
	d := r.Storage.(*diskmodel.Disk)
	if d.Size() == 0 && !w.created {
		return nil
	}
	img0, err := d.CrashImage(diskmodel.Func(func(string, int) int { return 0 }), w.images[0])
	if err != nil {
		return err
	}
	w.images[0] = img0.Data
	profile := d.Profile()
	yields := int64(0)
	d1, err := diskmodel.FromImage(img0, diskmodel.Options{Profile: profile, Buffer: w.live(0, img0), Yield: func(*diskmodel.Disk, diskmodel.Op) error { yields++; return nil }})
	if err != nil {
		return err
	}
	_, offered, got, err := recoveredOffering(d1)
	if err != nil {
		var ce *persy.CorruptError
		switch {
		case r.Damaged && (errors.As(err, &ce) || errors.Is(err, persy.ErrNotPersyFile) || errors.Is(err, persy.ErrFormatVersion)):
			return nil // I11: the damage is detected
		}
		// A crash that cut the format short leaves nothing or a storage
		// OpenStorage formats again: never one the caller is stuck with.
		return fmt.Errorf("recovery: %w", err)
	}
	if !w.created {
		if len(got) != 0 {
			return fmt.Errorf("a file whose creation never returned holds %d segments", len(got))
		}
		return nil
	}
	lo, hi := w.acked, w.started
	if r.Damaged {
		// I11 under a media fault: the commits the last barrier made
		// durable have nothing written after them to vouch for them, so
		// a fault that destroys their journal pages without a trace
		// reads as the crash before that barrier. Everything older is
		// detected (a *CorruptError above) or intact.
		lo = w.lastAck
	}
	for _, id := range offered {
		if err := w.offerable(id, lo); err != nil {
			return err
		}
	}
	match := -1
	for k := hi; k >= lo; k-- {
		if diff(w.after(k), got) == "" {
			match = k
			break
		}
	}
	if match < 0 {
		return fmt.Errorf("I1/I2/I3/I4: the recovered state is the model after none of events %d..%d: against %d, %s", lo, hi, hi, diff(w.after(hi), got))
	}
	if r.Damaged {
		return nil // what is not detected is as it should be; the rest is not promised
	}
	if err := readOnlyReads(img0, profile, got, len(offered) == 0); err != nil {
		return err
	}
	// I7: recovering the recovered file writes nothing.
	img1, err := d1.CrashImage(diskmodel.Func(func(string, int) int { return 0 }), w.images[1])
	if err != nil {
		return err
	}
	w.images[1] = img1.Data
	writes := 0
	d2, err := diskmodel.FromImage(img1, diskmodel.Options{Profile: profile, Frozen: true, Yield: func(_ *diskmodel.Disk, op diskmodel.Op) error {
		if op.Kind != diskmodel.OpClose {
			writes++
		}
		return nil
	}})
	if err != nil {
		return err
	}
	db2, again, err := recovered(d2)
	if err != nil {
		return fmt.Errorf("I7: recovering the recovered file: %w", err)
	}
	if err := db2.Close(); err != nil {
		return fmt.Errorf("I7: closing the recovered file: %w", err)
	}
	if d := diff(got, again); d != "" || writes > 0 {
		return fmt.Errorf("I7: recovering the recovered file made %d writes and gave another state: %s", writes, d)
	}
	// I7: a crash inside recovery, then recovery again, gives the same
	// state. The crash point and image come from a hash of the image:
	// deterministic, so the schedule replays.
	if yields == 0 {
		return nil
	}
	// crc32 rather than a byte-at-a-time hash: images are hundreds of
	// KiB and this runs for every crash state.
	seed := uint64(crc32.Checksum(img0.Data, crcTable))<<32 | uint64(len(img0.Data))
	at := int64(seed % uint64(yields))
	n := int64(0)
	d3, err := diskmodel.FromImage(img0, diskmodel.Options{Profile: profile, Buffer: w.live(1, img0), Yield: func(*diskmodel.Disk, diskmodel.Op) error {
		if n++; n > at {
			return diskmodel.ErrCrashed
		}
		return nil
	}})
	if err != nil {
		return err
	}
	if db3, _, err := recovered(d3); err == nil {
		db3.Close()
		return fmt.Errorf("I7: recovery went on past the crash at its yield %d of %d", at, yields)
	}
	img3, err := d3.CrashImage(noMedia{diskmodel.Seeded(seed)}, w.images[2])
	if err != nil {
		return err
	}
	w.images[2] = img3.Data
	d4, err := diskmodel.FromImage(img3, diskmodel.Options{Profile: profile, Buffer: w.live(2, img3)})
	if err != nil {
		return err
	}
	_, third, err := recovered(d4)
	if err != nil {
		return fmt.Errorf("I7: recovering after a crash at yield %d of %d of recovery: %w", at, yields, err)
	}
	if d := diff(got, third); d != "" {
		return fmt.Errorf("I7: recovering after a crash at yield %d of %d of recovery gave another state: %s", at, yields, d)
	}
	return nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// live returns buffer i of w.lives, with room for img's live bytes and
// some growth: a disk booted on img copies it there.
func (w *engineWorkload) live(i int, img *diskmodel.Image) []byte {
	if n := len(img.Data) + 2*mmapfile.PageBytes; cap(w.lives[i]) < n {
		w.lives[i] = make([]byte, 0, 2*n)
	}
	return w.lives[i]
}

// noMedia answers no to media faults: a crash inside recovery tears and
// loses writes; bit flips are another property's.
type noMedia struct{ inner diskmodel.Chooser }

func (c noMedia) Choose(label string, n int) int {
	if diskmodel.IsMediaFault(label) {
		return 0
	}
	return c.inner.Choose(label, n)
}

// offerable reports a violation if recovery may not offer the
// transaction id as prepared: it must be one the workload prepared and
// had not seen decided.
func (w *engineWorkload) offerable(id string, acked int) error {
	if !strings.HasPrefix(id, "p") {
		return fmt.Errorf("%w: I3: recovery offers %q as prepared, which was a one-phase commit", errWorkload, id)
	}
	prepared := false
	for i, e := range w.events[:w.started] {
		if w.ids[e.tx] != id {
			continue
		}
		switch e.kind {
		case evPrepare:
			prepared = true
		case evDecideCommit, evDecideRollback:
			if i < acked {
				return fmt.Errorf("%w: I3: recovery offers %q as prepared, whose decision was acknowledged", errWorkload, id)
			}
		}
	}
	if !prepared {
		return fmt.Errorf("%w: recovery offers %q as prepared, which was never prepared", errWorkload, id)
	}
	return nil
}
