// Package diskmodel is the simulated disk: an mmapfile.Storage that keeps,
// beside the live bytes the engine sees, the durable bytes a power loss
// would leave and every version each sector held since its last barrier.
// A crash image takes, per sector, any of those versions (early write-back,
// reordering and tearing in one rule), any file size set since the last
// Sync, and no file at all if its creation was never synced. Every decision
// comes from a Chooser, so a run is deterministic and replayable.
//
// Yield points are the calls that change state: Grow, WriteAt, SyncRange,
// Sync, Close and PowerCut. Reads are not yield points: a crash between a read and
// the next mutation leaves the same states as a crash at that mutation.
package diskmodel

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"slices"
	"sync"
	"syscall"

	"github.com/gopersy/persy/mmapfile"
)

// MaxVersionsPerUnit bounds the versions kept for one unit between two
// barriers. Past it the oldest written version (not the durable one, not
// the newest) is dropped, which the counters report.
const MaxVersionsPerUnit = 16

// MaxBytes is the capacity of a simulated disk: a Grow past it fails with
// ENOSPC. The disk keeps several copies of the file in memory.
const MaxBytes = 1 << 30

// ErrCrashed is returned by every call after the simulated machine crashed.
var ErrCrashed = errors.New("diskmodel: the simulated machine crashed")

// BypassError reports a store into the live bytes that did not go through
// WriteAt: the engine wrote into a view.
type BypassError struct {
	Off int64 // first byte that differs from what WriteAt put there
}

// Error names the first byte changed without WriteAt.
func (e *BypassError) Error() string {
	return fmt.Sprintf("diskmodel: byte %d was changed without WriteAt (a store into a view)", e.Off)
}

// OpKind names a yield point.
type OpKind uint8

// The yield points.
const (
	OpGrow OpKind = iota + 1
	OpWrite
	OpSyncRange
	OpSync
	OpClose
	OpPowerCut
)

// String names the yield point as traces print it, or opN for a value
// that is no yield point.
func (k OpKind) String() string {
	switch k {
	case OpGrow:
		return "grow"
	case OpWrite:
		return "write"
	case OpSyncRange:
		return "syncrange"
	case OpSync:
		return "sync"
	case OpClose:
		return "close"
	case OpPowerCut:
		return "powercut"
	}
	return fmt.Sprintf("op%d", uint8(k))
}

// IsBarrier reports whether the op makes something durable.
func (k OpKind) IsBarrier() bool { return k == OpSyncRange || k == OpSync }

// Op is one call at a yield point, before its effect.
type Op struct {
	Yield int64  // the yield's index, from 0
	Kind  OpKind // what is called
	Off   int64  // write, syncrange: offset; grow: the new size
	N     int64  // write, syncrange: length
	CRC   uint32 // write: CRC32C of the data
}

// String is the op as one line of a trace: its yield, kind and arguments.
func (o Op) String() string {
	switch o.Kind {
	case OpGrow:
		return fmt.Sprintf("#%d grow %d", o.Yield, o.Off)
	case OpWrite:
		return fmt.Sprintf("#%d write %d+%d crc=%08x", o.Yield, o.Off, o.N, o.CRC)
	case OpSyncRange:
		return fmt.Sprintf("#%d syncrange %d+%d", o.Yield, o.Off, o.N)
	}
	return fmt.Sprintf("#%d %v", o.Yield, o.Kind)
}

// Options configures a Disk.
type Options struct {
	// Profile says what faults are possible; the zero value is LinuxStrict.
	Profile Profile
	// Chooser decides the faults that happen while running: a sync that
	// fails, a Grow that finds the disk full. Nil means none happens.
	Chooser Chooser
	// Yield, if set, is called at every yield point before the call takes
	// effect, outside the disk's lock. Returning ErrCrashed crashes the
	// machine there: the call and every later one return ErrCrashed and
	// the disk's state stays as it was. Any other error is returned by the
	// call, which then has no effect.
	Yield func(d *Disk, op Op) error
	// Frozen boots a disk on its image without copying it, for a run
	// that must change nothing: a check that an open writes nothing. Its
	// WriteAt and Grow fail with ErrFrozen and change nothing; the image
	// must not change while the disk is used. Its views are the image's
	// own memory, so a store through one changes the image (where a
	// read-only mapping would fault): the disk notes each page's checksum
	// when a view first covers it, and its barriers, Err and Close
	// return a *BypassError for a page that changed. Copying the image is
	// most of what booting a disk costs.
	Frozen bool
	// Buffer, if it has room, is where FromImage copies the image for
	// the disk's live bytes, instead of into new memory. Its contents
	// belong to the disk until the disk is no longer used: an explorer
	// that boots disks one after another passes each the buffer of the
	// one before, whose memory is warm where new memory is not.
	Buffer []byte
}

// ErrFrozen is what a frozen disk's WriteAt and Grow return.
var ErrFrozen = errors.New("diskmodel: a write to a frozen disk")

// Counters count what a Disk has done.
type Counters struct {
	Yields, Writes, WrittenBytes, Grows, SyncRanges, Syncs int64
	FailedSyncs, FailedGrows                               int64
	Images                                                 int64 // crash images materialized
	DroppedVersions                                        int64 // versions dropped past MaxVersionsPerUnit
	HistoryBytes, PeakHistoryBytes                         int64 // bytes held in version histories
}

// Disk is the simulated Storage. It is safe for concurrent use, but a
// deterministic simulation drives it from one goroutine.
type Disk struct {
	o    Options
	unit int // bytes per atomic unit

	mu       sync.Mutex
	live     live
	shadow   pages // what the live bytes hold if every store used WriteAt
	durable  pages // what survives a crash, for units without history
	size     int64 // live size
	dSize    int64 // durable size
	sizes    []int64
	hist     [][][]byte // per unit: versions written since its last barrier
	prior    [][]byte   // per unit: its durable version before its last barrier changed it, for lost writes
	priorAt  []uint64   // per unit with a prior version: the barrier that changed it
	barriers uint64     // persists so far (barriers), numbering priorAt
	backed   []bool     // per unit: some version of it reached the disk
	took     []bool     // per unit, while an image is made: a newer version taken
	dirty    []int      // units with a history
	sorted   bool
	created  bool // the creation is durable
	poisoned error
	closed   bool
	crashed  bool
	bypass   error
	scanned  int64    // d.c.Yields+1 when the live bytes were last found equal to shadow
	viewed   []bool   // per OS page: a view returned by Bytes covered it
	sums     []uint32 // frozen: per viewed OS page, its CRC32C when first viewed
	c        Counters
}

// New returns a disk holding a file just created: empty, and absent after
// a crash until a Sync makes its creation durable.
func New(o Options) *Disk {
	if o.Profile.AtomicBytes == 0 {
		o.Profile = LinuxStrict
	}
	return &Disk{o: o, unit: o.Profile.AtomicBytes, sorted: true}
}

// FromImage returns a disk holding img as its durable and live content: the
// machine rebooted after a crash. It fails with an error wrapping
// fs.ErrNotExist if the crash left no file. The disk reads img.Data,
// never writes it, and may keep reading it while it is used: img.Data
// must not change until the disk is no longer used. Many disks may boot
// on one image.
func FromImage(img *Image, o Options) (*Disk, error) {
	if !img.Exists {
		return nil, fmt.Errorf("diskmodel: the crash left no file: %w", errNotExist)
	}
	d := New(o)
	d.created = true
	d.load(img.Data)
	d.o.Buffer = nil // the live bytes' now; a PowerCut loads into new memory
	return d, nil
}

// load makes data the disk's live and durable content, with no history:
// what a machine boots on. The live bytes are a copy, into Options.Buffer
// when it has room, otherwise made by append, which, unlike make, does
// not clear memory it then overwrites; a frozen disk's live bytes are
// data itself. The durable and shadow bytes share data's pages until
// they change.
func (d *Disk) load(data []byte) {
	n := int64(len(data))
	whole := roundUp(n, mmapfile.PageBytes)
	tail := n % mmapfile.PageBytes
	if d.o.Frozen {
		// Views read data itself: nothing writes the live bytes.
		d.live = live{gens: [][]byte{data[:n:n]}}
	} else {
		var b []byte
		if buf := d.o.Buffer; int64(cap(buf)) >= whole {
			b = buf[:whole]
			copy(b, data)
			clear(b[n:])
		} else {
			b = append([]byte(nil), data...) // a copy, never data itself
			b = append(b, make([]byte, whole-n)...)
		}
		d.live = live{gens: [][]byte{b}}
	}
	base := data[:n-tail]
	d.shadow, d.durable = sharedPages(base), sharedPages(base)
	if tail > 0 {
		// The last page, short in data, is the disk's own, padded.
		for _, ps := range []*pages{&d.shadow, &d.durable} {
			own := append(make([]byte, 0, mmapfile.PageBytes), data[n-tail:]...)
			ps.p = append(ps.p, own[:mmapfile.PageBytes])
			ps.own = append(ps.own, true)
		}
	}
	units := int(whole) / d.unit
	// hist is made at the first write, prior and priorAt only where
	// media faults are: booting a disk for every crash state, most of
	// which write little, made them for nothing.
	d.hist, d.prior, d.priorAt = nil, nil, nil
	d.backed, d.took = make([]bool, units), make([]bool, units)
	for u := range d.backed {
		d.backed[u] = true
	}
	d.dirty, d.sorted, d.viewed, d.sums = nil, true, nil, nil
	d.size, d.dSize, d.sizes = n, n, nil
}

var errNotExist = fs.ErrNotExist

// Profile returns the disk's profile.
func (d *Disk) Profile() Profile { return d.o.Profile }

// Unsynced returns the offsets of the OS pages holding writes no barrier
// has covered, in the order a crash image decides them (LabelPage).
func (d *Disk) Unsynced() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.sorted {
		slices.Sort(d.dirty)
		d.sorted = true
	}
	unitsPerPage := mmapfile.PageBytes / d.unit
	var out []int64
	for _, u := range d.dirty {
		if off := int64(u/unitsPerPage) * mmapfile.PageBytes; len(out) == 0 || out[len(out)-1] != off {
			out = append(out, off)
		}
	}
	return out
}

// Stale returns the offsets of the OS pages a media fault may give their
// content before the last barrier that changed them (a lost write), in
// the order LabelLostPage counts them in an image of the newest size; none
// unless the profile is Media.
func (d *Disk) Stale() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	unitsPerPage := mmapfile.PageBytes / d.unit
	var out []int64
	for u, old := range d.prior {
		if off := int64(u/unitsPerPage) * mmapfile.PageBytes; old != nil && (len(out) == 0 || out[len(out)-1] != off) {
			out = append(out, off)
		}
	}
	return out
}

// Counters returns what the disk has done so far.
func (d *Disk) Counters() Counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

// Crashed reports whether the machine crashed.
func (d *Disk) Crashed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.crashed
}

// Err returns the first store found to bypass WriteAt, or nil. It checks
// the live bytes now, as every barrier and crash image does.
func (d *Disk) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.scanned = 0 // the engine may have run since the last yield
	return d.checkBypassLocked()
}

// yield runs the Yield hook and the checks every mutating call shares.
func (d *Disk) yield(kind OpKind, off, n int64, p []byte) error {
	d.mu.Lock()
	if d.crashed {
		d.mu.Unlock()
		return ErrCrashed
	}
	op := Op{Yield: d.c.Yields, Kind: kind, Off: off, N: n}
	if kind == OpWrite {
		op.CRC = crc32.Checksum(p, castagnoli)
	}
	d.c.Yields++
	d.mu.Unlock()
	if d.o.Yield != nil {
		if err := d.o.Yield(d, op); err != nil {
			if errors.Is(err, ErrCrashed) {
				d.mu.Lock()
				d.crashed = true
				d.mu.Unlock()
			}
			return err
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// usable reports why the disk refuses a mutation, under d.mu.
func (d *Disk) usable() error {
	switch {
	case d.crashed:
		return ErrCrashed
	case d.closed:
		return mmapfile.ErrClosed
	case d.poisoned != nil:
		return fmt.Errorf("%w (by %v)", mmapfile.ErrPoisoned, d.poisoned)
	}
	return nil
}

// choose asks the running chooser whether a rare fault happens.
func (d *Disk) fault(label string) bool {
	if d.o.Chooser == nil {
		return false
	}
	const n = 8
	return d.o.Chooser.Choose(label, n) == n-1
}

// Size implements mmapfile.Storage.
func (d *Disk) Size() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.size
}

// Bytes implements mmapfile.Storage.
func (d *Disk) Bytes(off int64, n int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	mmapfile.CheckView(off, n, d.size)
	if n > 0 {
		last := int((off + int64(n) - 1) / mmapfile.PageBytes)
		if last >= len(d.viewed) {
			d.viewed = append(d.viewed, make([]bool, last+1-len(d.viewed))...)
		}
		for i := int(off / mmapfile.PageBytes); i <= last; i++ {
			if d.o.Frozen && !d.viewed[i] {
				d.sums = append(d.sums, make([]uint32, i+1-min(i+1, len(d.sums)))...)
				d.sums[i] = crc32.Checksum(d.frozenPage(i), castagnoli)
			}
			d.viewed[i] = true
		}
	}
	return d.live.view(off, n)
}

// Grow implements mmapfile.Storage.
func (d *Disk) Grow(size int64) error {
	if err := d.yield(OpGrow, size, 0, nil); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	if size <= d.size {
		return nil
	}
	if d.o.Frozen {
		return ErrFrozen
	}
	if size > MaxBytes {
		d.c.FailedGrows++
		return fmt.Errorf("diskmodel: grow to %d, past the simulated disk's %d bytes: %w", size, int64(MaxBytes), syscall.ENOSPC)
	}
	if d.o.Profile.NoSpace && d.fault("enospc") {
		d.c.FailedGrows++
		return fmt.Errorf("diskmodel: grow to %d: %w", size, syscall.ENOSPC)
	}
	d.c.Grows++
	d.growLocked(size)
	return nil
}

func (d *Disk) growLocked(size int64) {
	d.live.grow(size)
	whole := roundUp(size, mmapfile.PageBytes)
	d.shadow.grow(whole)
	d.durable.grow(whole)
	units := int(whole) / d.unit
	if d.hist != nil {
		d.hist = append(d.hist, make([][][]byte, units-len(d.hist))...)
	}
	if d.prior != nil {
		d.prior = append(d.prior, make([][]byte, units-len(d.prior))...)
		d.priorAt = append(d.priorAt, make([]uint64, units-len(d.priorAt))...)
	}
	d.backed = append(d.backed, make([]bool, units-len(d.backed))...)
	d.took = append(d.took, make([]bool, units-len(d.took))...)
	d.size = size
	d.sizes = append(d.sizes, size)
}

// WriteAt implements mmapfile.Storage.
func (d *Disk) WriteAt(p []byte, off int64) error {
	if err := d.yield(OpWrite, off, int64(len(p)), p); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	if err := mmapfile.CheckWrite(off, len(p), d.size); err != nil {
		return err
	}
	if d.o.Frozen {
		return ErrFrozen
	}
	// A store into a view that this write would cover up must not go
	// unseen: the kernel could have written it back already.
	if d.bypass == nil {
		if i := d.live.diffRange(&d.shadow, off, int64(len(p))); i >= 0 {
			d.bypass = &BypassError{Off: i}
		}
	}
	if d.bypass != nil {
		return d.bypass
	}
	d.live.write(p, off)
	d.shadow.write(p, off)
	d.c.Writes++
	d.c.WrittenBytes += int64(len(p))
	if len(p) == 0 {
		return nil
	}
	for u := int(off) / d.unit; u <= int(off+int64(len(p))-1)/d.unit; u++ {
		d.record(u)
	}
	return nil
}

// record appends the unit's current shadow content to its history.
func (d *Disk) record(u int) {
	if d.hist == nil {
		d.hist = make([][][]byte, len(d.backed))
	}
	off := int64(u * d.unit)
	cur := d.shadow.unit(off, d.unit)
	h := d.hist[u]
	last := d.durable.unit(off, d.unit)
	if h == nil {
		d.dirty = append(d.dirty, u)
		d.sorted = false
		h = [][]byte{} // dirty, with the durable version only so far
		d.hist[u] = h
	}
	if len(h) > 0 {
		last = h[len(h)-1]
	}
	if bytes.Equal(last, cur) {
		return
	}
	if len(h) == MaxVersionsPerUnit {
		copy(h, h[1:])
		h = h[:len(h)-1]
		d.c.DroppedVersions++
		d.c.HistoryBytes -= int64(d.unit)
	}
	d.hist[u] = append(h, slices.Clone(cur))
	d.c.HistoryBytes += int64(d.unit)
	d.c.PeakHistoryBytes = max(d.c.PeakHistoryBytes, d.c.HistoryBytes)
}

// SyncRange implements mmapfile.Storage.
func (d *Disk) SyncRange(off, n int64) error {
	if err := d.yield(OpSyncRange, off, n, nil); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	if err := mmapfile.CheckSyncRange(off, n, d.size); err != nil {
		return err
	}
	if err := d.barrierLocked("syncrange"); err != nil {
		return err
	}
	d.c.SyncRanges++
	if n == 0 {
		return nil
	}
	start, end := mmapfile.PageCover(off, n)
	d.persistLocked(int(start)/d.unit, int(end)/d.unit)
	return nil
}

// Sync implements mmapfile.Storage.
func (d *Disk) Sync() error {
	if err := d.yield(OpSync, 0, 0, nil); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	if err := d.barrierLocked("sync"); err != nil {
		return err
	}
	d.c.Syncs++
	d.persistLocked(0, len(d.hist))
	d.dSize, d.sizes, d.created = d.size, nil, true
	return nil
}

// barrierLocked runs the checks and faults every barrier shares.
func (d *Disk) barrierLocked(what string) error {
	if err := d.checkBypassLocked(); err != nil {
		return err
	}
	if d.o.Profile.SyncFailures && d.fault(what+"Fails") {
		// The pages count as clean but their content is unknown: the
		// histories stay, so a crash may leave any version; the handle
		// accepts nothing more.
		d.c.FailedSyncs++
		d.poisoned = fmt.Errorf("diskmodel: %s: %w", what, syscall.EIO)
		return d.poisoned
	}
	return nil
}

// persistLocked makes the units [lo, hi) durable at their current content.
func (d *Disk) persistLocked(lo, hi int) {
	hi = min(hi, len(d.hist))
	d.barriers++
	kept := d.dirty[:0]
	for _, u := range d.dirty {
		if u < lo || u >= hi {
			kept = append(kept, u)
			continue
		}
		off := int64(u * d.unit)
		old, cur := d.durable.unit(off, d.unit), d.shadow.unit(off, d.unit)
		if d.o.Profile.Media && !bytes.Equal(old, cur) {
			if d.prior == nil {
				d.prior, d.priorAt = make([][]byte, len(d.backed)), make([]uint64, len(d.backed))
			}
			d.prior[u] = append(d.prior[u][:0], old...)
			d.priorAt[u] = d.barriers
		}
		d.durable.setUnit(cur, off)
		d.backed[u] = true
		d.c.HistoryBytes -= int64(len(d.hist[u]) * d.unit)
		d.hist[u] = nil
	}
	d.dirty = kept
}

// checkBypassLocked compares the live bytes with what WriteAt put there.
// The engine runs only between yield points, so one scan per yield covers
// every image and barrier taken at it.
func (d *Disk) checkBypassLocked() error {
	if d.bypass != nil || d.scanned == d.c.Yields+1 {
		return d.bypass
	}
	// Only a page a view has covered can hold a store that bypassed
	// WriteAt: views are capped at what Bytes was asked for.
	for i, seen := range d.viewed {
		if !seen {
			continue
		}
		if d.o.Frozen {
			// The live bytes are the image, and so are shadow's: the
			// page's checksum is what it held.
			if crc32.Checksum(d.frozenPage(i), castagnoli) != d.sums[i] {
				d.bypass = &BypassError{Off: int64(i) * mmapfile.PageBytes}
				return d.bypass
			}
			continue
		}
		off := int64(i) * mmapfile.PageBytes
		if at := d.live.diffRange(&d.shadow, off, min(mmapfile.PageBytes, d.size-off)); at >= 0 {
			d.bypass = &BypassError{Off: at}
			return d.bypass
		}
	}
	d.scanned = d.c.Yields + 1
	return nil
}

// Close implements mmapfile.Storage. It is not a barrier. A frozen
// disk, which has none, checks at Close that no store through a view
// changed its image.
func (d *Disk) Close() error {
	if err := d.yield(OpClose, 0, 0, nil); err != nil {
		if errors.Is(err, ErrCrashed) {
			return nil // a crashed machine's handles are gone
		}
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.o.Frozen {
		d.scanned = 0
		return d.checkBypassLocked()
	}
	return nil
}

// frozenPage returns OS page i of a frozen disk's live bytes, short at
// the end of the file.
func (d *Disk) frozenPage(i int) []byte {
	g := d.live.gens[0]
	return g[int64(i)*mmapfile.PageBytes : min(int64(i+1)*mmapfile.PageBytes, int64(len(g)))]
}

// PowerCut cuts the power and boots the machine again on the same disk:
// the disk takes a crash image ch decides (as CrashImage does, but with
// no media fault: a power loss, not a damaged device) as its durable and
// live content, and the next process goes on from there, with the same
// Yield hook and counters. Every view taken before reads what it read;
// the handles of the process that lost power must not be used again.
// PowerCut is a yield point, so a crash may come first.
func (d *Disk) PowerCut(ch Chooser) error { return d.powerCut(ch, false) }

// PowerCutFaulty is PowerCut on a device that may also fault as it loses
// power: on a Media profile the image takes, after the crash's own
// decisions, the media faults CrashImage's would (at most one, decided
// by ch under the same labels). A program chaining power cuts uses it to
// aim one fault at a state it built: a write the device acknowledged and
// dropped, say, under a page a later write then tears.
func (d *Disk) PowerCutFaulty(ch Chooser) error { return d.powerCut(ch, true) }

func (d *Disk) powerCut(ch Chooser, media bool) error {
	if err := d.yield(OpPowerCut, 0, 0, nil); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashed {
		return ErrCrashed
	}
	img, err := d.crashImageLocked(ch, nil, media)
	if err != nil {
		return err
	}
	data := img.Data
	if !img.Exists {
		data = nil
	}
	d.load(data)
	d.created = img.Exists
	d.poisoned, d.closed, d.bypass, d.scanned = nil, false, nil, 0
	return nil
}

// Reopen opens a closed disk again, as a process that closed the file and
// starts over without a crash: everything written stays, durable or not.
// It fails on a disk that is still open, crashed or poisoned by a failed
// barrier, whose content no process may rely on.
func (d *Disk) Reopen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	was := d.closed
	d.closed = false
	if err := d.usable(); err != nil {
		d.closed = was
		return err
	}
	if !was {
		return errors.New("diskmodel: reopen of a disk still open")
	}
	return nil
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

// IsFault reports whether err is a fault a Disk injects: EIO from a
// barrier or ENOSPC from Grow.
func IsFault(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSPC)
}
