package properties

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
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

// EngineChain runs the engine workload's transactions for longer, with
// checkpoints often enough that journal pages and spares are freed and
// reused, and cuts the power in the middle of what it is doing: a commit,
// a prepare, a decision, a checkpoint, or a recovery itself. Snapshots
// taken along the way must read the state at their creation while the
// commits and checkpoints after them free and reuse pages (I9). After each
// power cut the machine boots on a crash image and recovers, deciding the
// prepared transactions it finds through Recovery or Options.OnPrepared,
// and the workload checks the recovered state before going on from it:
// every acknowledged event is there and the state is the model after some
// prefix of the events started (I1, I2, I3); no one-phase commit and no
// transaction decided before the cut is offered as prepared (I3); Check
// passes (I5). What that recovery discarded or rolled back leaves the
// model, so a later recovery that brings any of it back, after more
// commits and more power cuts, fails the same comparison (I4). The runner
// crashes the run on top at its own points and checks as the engine
// workload does. On a disk whose media may fault, a commit may write the
// journal through a refill of its spares into pages the root state before
// the refill lists free, where a lost write of the refill's root copy
// leaves recovery a journal in pages its state counts free (see
// drawRefill).
func EngineChain() sim.Workload {
	return sim.Workload{
		Name:        "engine-chain",
		Description: "long engine runs reusing journal pages, cut by power losses mid-operation and inside recovery, each recovered, decided and checked before going on: nothing acknowledged lost, nothing discarded or rolled back ever back",
		// A run reaches a few hundred yields: the yields strategy
		// crashes at every fourth, at an offset drawn per run.
		Every: 4,
		// Six times a format workload's share, ten on linux-strict:
		// its power cuts tear pages there, and most seeded protocol
		// bugs of the engine need a few dozen runs of those rows.
		RowShare: func(profile, _ string) int {
			if profile == diskmodel.LinuxStrict.Name {
				return 10
			}
			return 6
		},
		New: func() sim.Program { return &chainWorkload{} },
	}
}

// maxCuts bounds the power cuts of one run.
const maxCuts = 4

type chainWorkload struct {
	engineWorkload
	s    *cutter // the storage of the process now running
	ckpt int
	cuts int // power cuts so far
	// cutArmed is set while a cut is due: the cutter cuts at its
	// countdown.
	cutArmed bool
	// hot are the OS pages the last cut tore: a later write over one is
	// where a torn page meets the write that reuses its address, and may
	// bring the next cut at the barrier that follows it.
	hot []int64
	// hotCut is the page whose write over a page the last cut tore made
	// the cut due, -1 if none did.
	hotCut int64
	// faulted is set once a cut lost a write the device acknowledged
	// (media): the recovery after it must detect the damage or recover
	// a state the model allows, and then the run ends, since one media
	// fault is what persy-go claims to detect. ended is set then.
	faulted, ended bool
	// spares counts the journal's spare pages left as the disk shows
	// them: those the root copy written last lists, less the journal
	// pages written since, each of which takes one; -1 while unknown,
	// before a root copy is written and after a power cut. limbo and
	// free count the pages of a journal page's size that root state
	// lists in limbo and on their free list.
	spares, limbo, free int
	// throughRefill is set once the run drew a commit that writes the
	// journal through its next refill (see drawRefill).
	throughRefill bool
}

// Check checks a crash state as the engine workload does, as damaged if
// a cut of the run put a media fault in the file. An image holding a
// media fault of its own on top of the cut's is two faults: persy-go
// claims to detect one, so the recovery of such a state is only run, and
// fails the check only by panicking.
func (w *chainWorkload) Check(r sim.Reboot) error {
	if w.faulted && r.Damaged {
		if r.Storage == nil {
			return nil
		}
		db, err := persy.OpenStorage(r.Storage, engineOptions(w.ckpt))
		if err == nil {
			if snap, err := db.Snapshot(); err == nil {
				_, _ = dump(snap)
				snap.Close()
			}
			_ = db.Check()
			_ = db.Close()
		}
		return nil
	}
	r.Damaged = r.Damaged || w.faulted
	return w.engineWorkload.Check(r)
}

// maybeHot may make a cut due at the next barrier when a write of b at
// off covers a page the last cut tore. A write of zeros over the page's
// first sector alone, a scrub, leaves the page hot: the cut that matters
// comes at the write that reuses the page after its scrub is durable,
// where a device that dropped the scrub brings the torn page's first
// sector back under the new write's later ones.
func (w *chainWorkload) maybeHot(b []byte, off int64) {
	n := int64(len(b))
	for i, p := range w.hot {
		if off >= p+mmapfile.PageBytes || off+n <= p {
			continue
		}
		if off == p && n == mmapfile.SectorBytes && bytes.Count(b, []byte{0}) == len(b) {
			return
		}
		w.hot = slices.Delete(w.hot, i, i+1)
		if w.cuts >= maxCuts || w.ch.Choose("cutHot", 2) != 0 {
			return
		}
		w.cutArmed, w.s.countdown, w.hotCut = true, 0, p // sooner than a cut due
		return
	}
}

// noteWrite follows, from a write of b at off, the journal's spares and
// the pages of their size the root state lists free: a root copy written
// lists them, and each journal page written takes a spare.
func (w *chainWorkload) noteWrite(b []byte, off int64) {
	switch {
	case len(b) == 1<<page.RootExp && (off == 1<<page.RootExp || off == 2<<page.RootExp):
		w.noteRoot()
	case len(b) == 1<<journal.PageExp && w.spares > 0:
		if h, ok := page.RawHeader(b); ok && h.Type == page.TypeJournal {
			w.spares--
		}
	}
}

// noteRoot reads the newest root state on the disk for the journal's
// spares and the pages of their size in limbo and on their free list.
func (w *chainWorkload) noteRoot() {
	w.spares, w.limbo, w.free = -1, 0, 0
	st, err := page.Load(w.disk)
	if err != nil {
		return
	}
	w.spares, w.free = st.JournalSpareCount, int(st.Free[journal.PageExp-page.MinExp].Count)
	for _, e := range st.Limbo[:st.LimboCount] {
		if page.Unpack(e).Exp == journal.PageExp {
			w.limbo++
		}
	}
}

// A commit may write the journal through its next refill once the
// journal has refillNear spares left or fewer; it fills pastRefill pages
// past the spares the refill takes from the free list.
const (
	refillNear = page.MaxJournalSpare / 2
	pastRefill = 3
)

// drawRefill may draw, on a media profile, once in a run, a commit that
// writes the journal through its next refill and on into the spares the
// refill takes from limbo, and returns the size of its record, or 0 for
// a commit as usual. It draws where such a refill is near: the journal
// has few spares left, and the root state lists pages of the journal's
// size in limbo and fewer on their free list, which a refill takes
// first, than a refill takes. With a prepared transaction open it does
// not: checkpoints keep the journal from that transaction's start, and
// the transaction may hold the locks the commit needs.
//
// A lost write of such a refill's root copy brings back the state before
// it, which lists free the pages the journal written since holds: a
// recovery that reads that journal and frees its pages when it trims it
// must report the file corrupt (page.Allocator.Free). The journal meets
// a refill once in page.MaxJournalSpare pages, a run seldom writes that
// many, and a refill comes mostly in a commit's last page, the next root
// state stored right after: without such a commit the journal seldom
// reaches the refill's spares from limbo before that state does. The
// commit is large, and so are the crash states after it: one a run.
func (w *chainWorkload) drawRefill() int {
	if !w.disk.Profile().Media || w.faulted || w.throughRefill || w.open != nil ||
		w.spares < 0 || w.spares > refillNear || w.limbo == 0 || w.free >= page.MaxJournalSpare {
		return 0
	}
	if w.ch.Choose("throughRefill", 2) == 0 {
		return 0
	}
	w.throughRefill = true
	return (w.spares + w.free + pastRefill) * journal.PageStream
}

// commitBulk commits one record of size bytes into the first segment the
// model holds, created first if it holds none.
func (w *chainWorkload) commitBulk(db *persy.DB, round, size int) error {
	tx, err := db.Begin(persy.TxOptions{})
	if err != nil {
		return err
	}
	var ops []mop
	seg := segNames[0]
	if i := slices.IndexFunc(segNames, func(s string) bool { _, ok := w.m[s]; return ok }); i >= 0 {
		seg = segNames[i]
	} else {
		if err := tx.CreateSegment(seg); err != nil {
			return err
		}
		ops = append(ops, mop{kind: "create", seg: seg})
	}
	data := strings.Repeat(fmt.Sprintf("b%d.%d|", len(w.txs), round), size/4+1)[:size]
	id, err := tx.Insert(seg, []byte(data))
	if err != nil {
		return err
	}
	ops = append(ops, mop{kind: "insert", seg: seg, id: id, data: data})
	_, err = w.commit(tx, ops, "", true)
	return err
}

// errPowerCut is what a process's storage returns, from the call at
// which the power went and from every call after.
var errPowerCut = errors.New("engine-chain: the power went")

// cutter is one process's view of the disk: it cuts the power when its
// countdown of barriers runs out, just before the barrier, when the
// writes it would make durable are still the kernel's to lose or tear,
// and after that answers every call with errPowerCut, as the handles of a
// process that lost power would go.
type cutter struct {
	*diskmodel.Disk
	w         *chainWorkload
	countdown int // barriers left before the cut; -1 for none due
	dead      bool
}

// barrier counts a barrier down and cuts the power when none is left.
func (c *cutter) barrier() error {
	if c.dead {
		return errPowerCut
	}
	if c.countdown < 0 {
		return nil
	}
	if c.countdown > 0 {
		c.countdown--
		return nil
	}
	c.dead = true
	c.w.cutArmed, c.w.spares = false, -1
	pages := c.Disk.Unsynced()
	img := &cutImage{ch: c.w.ch, garbage: c.Profile().GarbageTorn, hot: slices.Index(pages, c.w.hotCut), stale: -1}
	cut := c.Disk.PowerCut
	if c.Profile().Media && !c.w.faulted {
		// The device may have dropped a write it acknowledged: the one
		// media fault of the run.
		img.faulty, img.stale = true, slices.Index(c.Disk.Stale(), c.w.hotCut)
		cut = c.Disk.PowerCutFaulty
	}
	c.w.hotCut = -1
	if err := cut(img); err != nil {
		return err
	}
	c.w.faulted = c.w.faulted || img.lost
	c.w.hot = c.w.hot[:0]
	for _, i := range img.tore {
		c.w.hot = append(c.w.hot, pages[i])
	}
	return errPowerCut
}

func (c *cutter) alive() error {
	if c.dead {
		return errPowerCut
	}
	return nil
}

func (c *cutter) Grow(size int64) error {
	if err := c.alive(); err != nil {
		return err
	}
	return c.Disk.Grow(size)
}

func (c *cutter) WriteAt(p []byte, off int64) error {
	if err := c.alive(); err != nil {
		return err
	}
	c.w.maybeHot(p, off)
	if err := c.Disk.WriteAt(p, off); err != nil {
		return err
	}
	c.w.noteWrite(p, off)
	return nil
}

func (c *cutter) SyncRange(off, n int64) error {
	if err := c.barrier(); err != nil {
		return err
	}
	return c.Disk.SyncRange(off, n)
}

func (c *cutter) Sync() error {
	if err := c.barrier(); err != nil {
		return err
	}
	return c.Disk.Sync()
}

func (c *cutter) Close() error {
	if c.dead {
		return nil
	}
	return c.Disk.Close()
}

// cutImage decides the image a power cut leaves, page by page: each page
// holding unsynced writes lost, written, or torn at a sector boundary,
// its sectors before the boundary new and the rest old or the reverse.
// Tears at one boundary are the images that complete a page torn before
// with the sectors of another write; drawn sector by sector at random,
// they would be rare.
type cutImage struct {
	ch      diskmodel.Chooser
	garbage bool // the profile offers garbage as a unit's last choice
	// For the page being decided, if torn: units before boundary are
	// new when newFirst, old otherwise, and the rest the reverse.
	torn, newFirst bool
	boundary, unit int
	page           int   // pages decided so far
	tore           []int // the pages torn, by the order decided
	// hot is the index of the page a hot cut aims at, -1 for none: the
	// page the last cut tore, written again since. It may take the tear
	// that completes the old page with the new write, its first sector
	// old and the rest new, or any other image.
	hot int
	// faulty offers a lost write (Disk.PowerCutFaulty): of the hot page,
	// once it took the completing tear, or of the first page a barrier
	// changed since the machine booted, the root page when a root copy
	// was stored since (the newest root copy lost, leaving the state
	// before it to meet the journal written since). stale is the hot
	// page's index among the pages a lost write may take back
	// (Disk.Stale), -1 if none; with the hot page's last barrier's write
	// lost, its scrub, the sector the tear left old is the torn page's
	// of the cut before. lost is set if the image lost a write, at
	// lostPage.
	faulty, completing, lost bool
	stale, lostPage          int
}

func (c *cutImage) Choose(label string, n int) int {
	switch label {
	case diskmodel.LabelPage:
		completing := c.page == c.hot && c.ch.Choose("cutHotPage", 2) == 0
		c.completing = c.completing || completing
		mode := 3 // the completing tear: old first, at the first boundary
		if !completing {
			mode = c.ch.Choose("cutPage", 4)
		}
		c.torn, c.newFirst, c.unit = mode >= 2, mode == 2, 0
		if c.torn {
			c.tore = append(c.tore, c.page)
		}
		c.page++
		switch mode {
		case 0:
			return diskmodel.PageLost
		case 1:
			return diskmodel.PagePersisted
		}
		c.boundary = 1
		if !completing {
			c.boundary += c.ch.Choose("cutBoundary", mmapfile.PageBytes/mmapfile.SectorBytes-1)
		}
		return diskmodel.PageMixed
	case diskmodel.LabelUnit:
		u := c.unit
		c.unit++
		if (u < c.boundary) != c.newFirst {
			return 0 // its durable version
		}
		if c.garbage {
			return n - 2 // its newest
		}
		return n - 1
	case diskmodel.LabelBitFlip, diskmodel.LabelMisdirect:
		return 0
	case diskmodel.LabelLostWrite:
		switch {
		case !c.faulty:
		case c.completing && c.stale >= 0 && c.ch.Choose("cutLoseScrub", 2) == 1:
			c.lost, c.lostPage = true, c.stale
		case c.ch.Choose("cutLoseFirst", 4) == 0:
			c.lost, c.lostPage = true, 0
		}
		if c.lost {
			return 1
		}
		return 0
	case diskmodel.LabelLostPage:
		return c.lostPage
	}
	return c.ch.Choose(label, n)
}

var _ mmapfile.Storage = (*cutter)(nil)

func (w *chainWorkload) Run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	w.ch = ch
	err := w.run(s)
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

// process starts the storage of a new process on the disk.
func (w *chainWorkload) process() *cutter {
	w.s = &cutter{Disk: w.disk, w: w, countdown: -1}
	return w.s
}

// maybeArm may make a power cut due, one time in one, within the next
// within barriers.
func (w *chainWorkload) maybeArm(label string, one, within int) {
	if w.cutArmed || w.cuts >= maxCuts || w.ch.Choose(label, one) != 0 {
		return
	}
	w.cutArmed = true
	w.s.countdown = w.ch.Choose("cutAfter", within)
}

func (w *chainWorkload) run(s mmapfile.Storage) error {
	d, ok := s.(*diskmodel.Disk)
	if !ok {
		return fmt.Errorf("%w: engine-chain runs on a simulated disk", errWorkload)
	}
	w.disk, w.hotCut, w.spares = d, -1, -1
	// Small records more often than the engine workload: a journal page
	// holding a small payload in its first sector is the one a tear can
	// bring back whole. And records spanning three journal pages, whose
	// entry a cut can leave in pages a resumed writer then passes, and
	// records just short of a page, whose commit's last entries a page
	// boundary may part.
	w.sizes = []int{0, 9, 60, 300, 9000, nearPage}
	ch := w.ch
	w.ckpt = []int{600, 16 << 10}[ch.Choose("checkpointBytes", 2)]
	if err := w.copyIn(ch.Choose("churned", 4)); err != nil {
		return err
	}
	db, err := persy.OpenStorage(w.process(), engineOptions(w.ckpt))
	if err != nil {
		return err
	}
	w.created, w.db = true, db
	if err := txIDLimit(db); err != nil {
		return err
	}
	w.m = w.base.clone()
	for round := range 12 + ch.Choose("rounds", 24) {
		w.maybeArm("cut", 6, 12)
		err := w.step(round)
		if w.s.dead {
			// The power went during the step, perhaps in a
			// checkpoint after an acknowledged commit whose failure
			// the commit does not report.
			err = w.recoverAfterCut()
		}
		if err != nil {
			return err
		}
		if w.ended {
			return nil
		}
	}
	// The end is the runner's: no cut is due, and none may become due
	// on a torn page written again.
	w.s.countdown, w.hot = -1, nil
	if ch.Choose("close", 2) == 1 {
		if err := w.db.Close(); err != nil {
			return err
		}
		w.ack()
	}
	return nil
}

// step runs one action of the workload on w.db.
func (w *chainWorkload) step(round int) error {
	ch, db := w.ch, w.db
	switch ch.Choose("action", 8) {
	case 0, 1, 2: // a one-phase commit, with an id or none
		if size := w.drawRefill(); size > 0 {
			return w.commitBulk(db, round, size)
		}
		bg := ch.Choose("background", 3) == 0
		id := ""
		if ch.Choose("commitID", 2) == 1 {
			id = fmt.Sprintf("c%d", len(w.txs))
		}
		return w.commitOne(db, round, persy.TxOptions{ID: []byte(id), BackgroundSync: bg})
	case 3:
		return w.prepareOne(db, round)
	case 4:
		return w.decideOne()
	case 5:
		return w.checkpoint(db)
	case 6:
		// A Sync, or a snapshot read after later commits and
		// checkpoints (a choice of its own, so that the regressions'
		// schedules, which take neither, replay as recorded).
		if ch.Choose("snapshot", 2) == 1 {
			return w.underSnapshot(db, w.m, ch, round)
		}
		return w.durably(db.Sync)
	case 7: // the process closes the file, or dies, and opens it again
		return w.restart(w.s, w.disk, func() (*persy.DB, error) {
			countdown := w.s.countdown // a cut due stays due
			db, err := persy.OpenStorage(w.process(), engineOptions(w.ckpt))
			w.s.countdown = countdown
			return db, err
		})
	}
	return nil
}

// copyIn starts the run, unless churn is 0, from a database that has
// seen churn: built aside, on a disk of its own, by commits of records
// large and small, updates, deletes and checkpoints enough to free
// journal and data pages and hand them out again, then written into the
// run's disk in one write and a Sync. So the run's journal writes land
// from the start on reused pages holding older pages' bytes, which is
// where a torn page and the write that reuses its address can combine;
// a fresh file's pages are zeros, and reach that only after long runs.
// The copy is not the engine's doing: nothing is checked until it is
// durable.
func (w *chainWorkload) copyIn(churn int) error {
	if churn == 0 {
		return nil
	}
	aside := diskmodel.New(diskmodel.Options{})
	db, err := persy.OpenStorage(aside, engineOptions(600))
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(uint64(churn), 0x636875726e))
	ids := map[string][]persy.RecordID{}
	for i := range 40 * churn {
		seg := segNames[r.IntN(len(segNames))]
		data := bytes.Repeat([]byte{byte(i)}, []int{9, 700, 3000}[r.IntN(3)])
		err := db.Update(func(tx *persy.Tx) error {
			if ok, err := tx.SegmentExists(seg); err != nil || !ok {
				ids[seg] = nil
				return tx.CreateSegment(seg)
			}
			n := len(ids[seg])
			switch k := r.IntN(4); {
			case k < 2 || n == 0:
				id, err := tx.Insert(seg, data)
				ids[seg] = append(ids[seg], id)
				return err
			case k == 2:
				return tx.Update(seg, ids[seg][r.IntN(n)], data)
			default:
				j := r.IntN(n)
				id := ids[seg][j]
				ids[seg] = slices.Delete(ids[seg], j, j+1)
				return tx.Delete(seg, id)
			}
		})
		if err != nil {
			return fmt.Errorf("%w: churning the file to copy in: %v", errWorkload, err)
		}
	}
	snap, err := db.Snapshot()
	if err != nil {
		return err
	}
	w.base, err = dump(snap)
	snap.Close()
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := aside.Reopen(); err != nil {
		return err
	}
	img := aside.Bytes(0, int(aside.Size()))
	w.copying = true
	if err := w.disk.Grow(int64(len(img))); err != nil {
		return err
	}
	if err := w.disk.WriteAt(img, 0); err != nil {
		return err
	}
	if err := w.disk.Sync(); err != nil {
		return err
	}
	w.copying, w.created = false, true
	return nil
}

// recoverAfterCut recovers the disk the power cut left, as often as
// further cuts inside recovery make it, checks what it holds against the
// events and makes the recovered state the run's from then on.
func (w *chainWorkload) recoverAfterCut() error {
	ch := w.ch
	w.cuts++
	w.db, w.open = nil, nil
	for {
		s := w.process()
		// Early in a recovery, or in the commit after it, is where a
		// resumed journal writes over what the cut left.
		w.maybeArm("cutInRecovery", 2, 3)
		db, err := w.recover(s, ch.Choose("recoverWith", 2) == 1)
		if errors.Is(err, errPowerCut) {
			w.cuts++
			continue
		}
		if w.detected(err) {
			return nil
		}
		if err != nil {
			return err
		}
		w.db = db
		break
	}
	snap, err := w.db.Snapshot()
	if err != nil {
		return err
	}
	got, err := dump(snap)
	snap.Close()
	if w.detected(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: after power cut %d: %v", errWorkload, w.cuts, err)
	}
	lo := w.acked
	if w.faulted {
		// As the engine workload's Check under a media fault: the
		// commits the last barrier made durable have nothing after
		// them to vouch for them.
		lo = w.lastAck
	}
	match := -1
	for k := w.started; k >= lo; k-- {
		if diff(w.after(k), got) == "" {
			match = k
			break
		}
	}
	if match < 0 {
		return fmt.Errorf("%w: I1/I2/I3/I4 after power cut %d: the recovered state is the model after none of events %d..%d: against %d, %s",
			errWorkload, w.cuts, w.acked, w.started, w.started, diff(w.after(w.started), got))
	}
	if err := w.db.Check(); w.faulted && listsInUseFree(err) {
		// Damage a read meets is detected when met; free lists that
		// hold pages in use are not met by any read: the next
		// allocations hand them out again, and the commits
		// acknowledged after the open are lost. Recovery must refuse
		// such a state.
		return fmt.Errorf("%w: I5/I11 after power cut %d: recovery opened a state whose accounts of its pages overlap: %v", errWorkload, w.cuts, err)
	} else if w.detected(err) {
		return nil
	} else if err != nil {
		return fmt.Errorf("%w: I5/I6 after power cut %d: %v", errWorkload, w.cuts, err)
	}
	w.rebase(match)
	w.ended = w.faulted
	return nil
}

// listsInUseFree reports whether err, from Check, finds two of the
// file's accounts of its pages claiming one page: reachable, reserved
// for the journal, free, in limbo, a free-list chunk, pending. A media
// fault damages pages, which their references then fail to validate;
// it does not make two valid accounts overlap, unless recovery went on
// from a root state that is not the newest.
func listsInUseFree(err error) bool {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		return slices.ContainsFunc(joined.Unwrap(), listsInUseFree)
	}
	var ce *persy.CorruptError
	return errors.As(err, &ce) && strings.Contains(ce.Reason, " overlaps ")
}

// detected reports whether err, after a cut that put a media fault in
// the file, is the engine detecting it (I11), and if so ends the run.
func (w *chainWorkload) detected(err error) bool {
	var ce *persy.CorruptError
	if w.faulted && (errors.As(err, &ce) || errors.Is(err, persy.ErrNotPersyFile) || errors.Is(err, persy.ErrFormatVersion)) {
		w.ended = true
		return true
	}
	return false
}

// recover opens s, deciding prepared transactions by their ids: through
// Recovery, after checking what it offers, or through OnPrepared.
func (w *chainWorkload) recover(s mmapfile.Storage, explicit bool) (*persy.DB, error) {
	if !explicit {
		return persy.OpenStorage(s, engineOptions(w.ckpt))
	}
	rec, err := persy.Recover(s, engineOptions(w.ckpt))
	if err != nil {
		return nil, err
	}
	for _, t := range rec.Transactions() {
		if t.Status != persy.StatusPrepared {
			continue
		}
		id := string(t.ID)
		if err := w.offerable(id, w.acked); err != nil {
			return nil, err
		}
		decide := rec.Rollback
		if openCommits(id) {
			decide = rec.Commit
		}
		if err := decide(t.ID); err != nil {
			return nil, err
		}
	}
	return rec.Finish()
}

// rebase makes the recovered state, the model after events[:k] with the
// prepared transactions left undecided there decided by their ids, the
// run's from now on: the events after k were discarded by a recovery that
// finished, and none of them may come back.
func (w *chainWorkload) rebase(k int) {
	decided := map[int]bool{}
	for _, e := range w.events[:k] {
		if e.kind == evDecideCommit || e.kind == evDecideRollback {
			decided[e.tx] = true
		}
	}
	events := w.events[:k:k]
	for _, e := range w.events[:k] {
		if e.kind == evPrepare && !decided[e.tx] {
			kind := evDecideRollback
			if openCommits(w.ids[e.tx]) {
				kind = evDecideCommit
			}
			events = append(events, event{kind, e.tx})
		}
	}
	w.events = events
	w.started = len(events)
	w.acked, w.lastAck = w.started, w.started
	c := w.disk.Counters()
	w.barriers = c.SyncRanges + c.Syncs
	w.m = w.after(w.started)
}
