//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || windows

package mmapfile

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/edsrzf/mmap-go"
)

// DefaultFileRegionBytes is the region size of a File unless Options says
// otherwise.
const DefaultFileRegionBytes = 64 << 20

// Options configures a File.
type Options struct {
	// RegionBytes is the size of each mapped region, a positive multiple of
	// the OS page size and of PageBytes; zero means DefaultFileRegionBytes.
	// Each region is mapped MaxViewBytes longer, overlapping the next.
	RegionBytes int64
	// ReadOnly opens the file for reading only (Open; Create refuses it):
	// the file is opened O_RDONLY, locked shared (any number of read-only
	// handles, in any process, and no read-write one), and mapped
	// without write access. WriteAt and Grow fail with ErrReadOnly;
	// SyncRange and Sync do nothing, there being nothing to make
	// durable. Nothing through the handle changes a byte of the file.
	ReadOnly bool
}

// File is the Storage over a real file, memory-mapped in fixed regions that
// overlap by MaxViewBytes (see regions). Regions are mapped as the file
// grows and never remapped or moved, so a view from Bytes stays valid until
// Close. A File holds an exclusive lock on its file (flock; LockFileEx on
// Windows): one handle per file, in this process or any other; a read-only
// File holds a shared one. File is safe for concurrent use by multiple
// goroutines, except that Close must not race with other calls.
type File struct {
	path          string
	readOnly      bool
	f             *os.File
	syncPageBytes int64 // SyncRange's alignment: the OS page size, at least PageBytes

	// growMu serialises Grow and Close. Grow reserves space and maps new
	// regions holding only growMu, so writes, reads and barriers do not
	// wait for the disk to allocate; it takes mu just to publish them.
	growMu sync.Mutex
	// mu guards r.mapped, size and closed: writers hold both growMu and
	// mu, readers hold either.
	mu     sync.RWMutex
	r      regions
	size   int64
	closed bool
	// trimTo, if above zero, is the length Close cuts the file to.
	trimTo int64

	// poisoned holds the first barrier or write failure; once set, the
	// handle refuses every mutation.
	poisoned atomic.Pointer[error]

	// read is what Size and Bytes read without taking mu, so that readers
	// on every core do not contend on it: the regions and the size,
	// replaced whole under mu by Grow, nil once Close starts.
	read atomic.Pointer[readView]
}

// readView is one state of a File's regions and size, never changed once
// published: Grow publishes a new one.
type readView struct {
	mapped [][]byte
	size   int64
}

// publish makes the regions and size, as they are now, what Size and
// Bytes read. The caller holds mu, or owns f.
func (f *File) publish() {
	f.read.Store(&readView{mapped: slices.Clone(f.r.mapped), size: f.size})
}

var _ Storage = (*File)(nil)

// Create creates the file at path, which must not exist (the error then
// wraps fs.ErrExist), locks it, and makes the empty file and its directory
// entry durable before returning.
func Create(path string, o Options) (*File, error) {
	rb, err := o.regionBytes()
	if err != nil {
		return nil, err
	}
	if o.ReadOnly {
		return nil, fmt.Errorf("%w: create %s", ErrReadOnly, path)
	}
	osf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("mmapfile: create: %w", err)
	}
	f, err := newFile(osf, path, rb, false)
	if err != nil {
		// Someone else opened the file between its creation and the lock:
		// it is theirs now, leave it.
		return nil, err
	}
	if err := f.syncCreated(); err != nil {
		return nil, f.abandon(fmt.Errorf("mmapfile: create %s: %w", path, err))
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return nil, f.abandon(fmt.Errorf("mmapfile: create %s: sync directory: %w", path, err))
	}
	return f, nil
}

// Open opens the existing file at path, locks it and maps regions covering
// its current size.
func Open(path string, o Options) (*File, error) {
	rb, err := o.regionBytes()
	if err != nil {
		return nil, err
	}
	flag := os.O_RDWR
	if o.ReadOnly {
		flag = os.O_RDONLY
	}
	osf, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("mmapfile: open: %w", err)
	}
	return newFile(osf, path, rb, o.ReadOnly)
}

// regionBytes returns the validated region size.
func (o Options) regionBytes() (int64, error) {
	rb := o.RegionBytes
	if rb == 0 {
		rb = DefaultFileRegionBytes
	}
	// The sizes are powers of two: a multiple of the largest is a
	// multiple of all.
	ps := max(osPageBytes(), mapAlignBytes)
	if rb <= 0 || rb%ps != 0 || rb > math.MaxInt-MaxViewBytes {
		return 0, fmt.Errorf("mmapfile: region size %d is not a positive multiple of the mapping alignment %d", rb, ps)
	}
	return rb, nil
}

// osPageBytes returns the OS page size, at least PageBytes.
func osPageBytes() int64 {
	return max(int64(os.Getpagesize()), PageBytes)
}

// newFile locks osf, shared if readOnly and exclusive otherwise, and
// maps its current size. On error it closes osf.
func newFile(osf *os.File, path string, rb int64, readOnly bool) (*File, error) {
	busy, err := lockFile(osf, readOnly)
	if busy {
		osf.Close()
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		osf.Close()
		return nil, fmt.Errorf("mmapfile: lock %s: %w", path, err)
	}
	f := &File{
		path:          path,
		readOnly:      readOnly,
		f:             osf,
		syncPageBytes: osPageBytes(),
		r:             regions{regionBytes: rb, shared: true},
	}
	fi, err := osf.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mmapfile: open %s: %w", path, err)
	}
	added, err := f.mapRegions(fi.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	f.r.mapped = added
	f.size = fi.Size()
	f.publish()
	return f, nil
}

// abandon undoes a Create that failed after the file was created and
// locked, and returns err. Where the platform allows (removeOpen), the
// file is removed while still locked, so no other opener can be using
// it; elsewhere it is closed first.
func (f *File) abandon(err error) error {
	remove := func() {
		if rerr := os.Remove(f.path); rerr != nil {
			err = errors.Join(err, fmt.Errorf("mmapfile: remove %s: %w", f.path, rerr))
		}
	}
	if removeOpen {
		remove()
	}
	if cerr := f.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	if !removeOpen {
		remove()
	}
	return err
}

// SyncDir makes the entries of directory dir durable where the platform
// can: fsync of the directory on Unix; nothing on Windows, where NTFS
// journals directory entries and a directory cannot be flushed.
func SyncDir(dir string) error { return syncDir(dir) }

// Size implements Storage. It keeps answering after Close, with the last
// size.
func (f *File) Size() int64 {
	if v := f.read.Load(); v != nil {
		return v.size
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.size
}

// Grow implements Storage. It reserves the new bytes (see reserve for
// each platform's way), so that a full disk is an error here and not a
// fault on a later store. A failed Grow leaves the size unchanged and
// does not poison the handle.
func (f *File) Grow(size int64) error {
	f.growMu.Lock()
	defer f.growMu.Unlock()
	if err := f.usable(); err != nil {
		return err
	}
	old := f.size
	if size <= old {
		return nil
	}
	if f.readOnly {
		return fmt.Errorf("%w: grow %s", ErrReadOnly, f.path)
	}
	if err := f.reserve(old, size); err != nil {
		return f.shrinkBack(old, fmt.Errorf("mmapfile: grow %s from %d to %d bytes: %w", f.path, old, size, err))
	}
	added, err := f.mapRegions(size)
	if err != nil {
		return f.shrinkBack(old, err)
	}
	f.mu.Lock()
	f.r.mapped = append(f.r.mapped, added...)
	f.size = size
	f.publish()
	f.mu.Unlock()
	return nil
}

// mapRegions maps the regions beyond those in f.r.mapped that a size of
// size bytes needs, and returns them. The caller holds growMu or owns f.
func (f *File) mapRegions(size int64) ([][]byte, error) {
	var added [][]byte
	prot := mmap.RDWR
	if f.readOnly {
		prot = mmap.RDONLY
	}
	for i := len(f.r.mapped); i < f.r.count(size); i++ {
		off := int64(i) * f.r.regionBytes
		m, err := mmap.MapRegion(f.f, f.mapLength(off, size), prot, 0, off)
		if err != nil {
			for _, a := range added {
				mm := mmap.MMap(a)
				_ = mm.Unmap() // the first error is the one to report
			}
			return nil, fmt.Errorf("mmapfile: map region %d of %s: %w", i, f.path, mapError(err))
		}
		added = append(added, m)
	}
	return added, nil
}

// Bytes implements Storage. Bytes after Close panics: the views would point
// at unmapped memory.
func (f *File) Bytes(off int64, n int) []byte {
	v := f.read.Load()
	if v == nil {
		panic(fmt.Sprintf("mmapfile: view of %d bytes at %d of %s after Close", n, off, f.path))
	}
	CheckView(off, n, v.size)
	return viewOf(v.mapped, f.r.regionBytes, off, n)
}

// WriteAt implements Storage. A fault while copying into the mapping (an
// I/O error paging the file in) is returned wrapping ErrFault and poisons
// the handle: part of p may have been stored.
func (f *File) WriteAt(p []byte, off int64) error {
	// Writes to disjoint bytes need no mutual exclusion; the read lock only
	// keeps the regions and the size steady.
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.usable(); err != nil {
		return err
	}
	if f.readOnly {
		return fmt.Errorf("%w: write of %d bytes at %d to %s", ErrReadOnly, len(p), off, f.path)
	}
	if err := CheckWrite(off, len(p), f.size); err != nil {
		return err
	}
	if err := Protect(func() { f.r.write(p, off) }); err != nil {
		return f.poison(fmt.Errorf("mmapfile: write of %d bytes at %d to %s: %w", len(p), off, f.path, err))
	}
	return nil
}

// SyncRange implements Storage by writing back the OS pages covering the
// range through the mappings holding them (flushPages: msync(MS_SYNC),
// or FlushViewOfFile on Windows), whichever region mapped them dirty,
// then, where that alone does not reach stable storage, flushing the
// device (flushDevice). The platform files say what each gives.
func (f *File) SyncRange(off, n int64) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.usable(); err != nil {
		return err
	}
	if err := CheckSyncRange(off, n, f.size); err != nil {
		return err
	}
	if n == 0 || f.readOnly {
		return nil
	}
	ps := f.syncPageBytes
	start := off &^ (ps - 1)
	end := (off + n + ps - 1) &^ (ps - 1)
	// end <= the live size rounded up to a page <= the end of the last
	// region, since regions are whole pages; one msync per mapping covers
	// as much of the range as that mapping holds.
	for pos := start; pos < end; {
		i := pos / f.r.regionBytes
		base := i * f.r.regionBytes
		m := f.r.mapped[i]
		hi := min(end, base+int64(len(m)))
		if err := flushPages(m[pos-base : hi-base]); err != nil {
			return f.poison(fmt.Errorf("mmapfile: write back %s [%d, %d): %w", f.path, pos, hi, err))
		}
		pos = hi
	}
	if err := f.flushDevice(); err != nil {
		return f.poison(fmt.Errorf("mmapfile: flush %s: %w", f.path, err))
	}
	return nil
}

// Sync implements Storage with the platform's full barrier (syncData:
// fdatasync on Linux), which also makes the file size durable.
func (f *File) Sync() error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if err := f.usable(); err != nil || f.readOnly {
		return err
	}
	if err := f.syncData(); err != nil {
		return f.poison(fmt.Errorf("mmapfile: sync %s: %w", f.path, err))
	}
	return nil
}

// Close implements Storage: it unmaps every region, releases the lock and
// closes the file; on Windows it also trims the file back to its live
// size (see trimOnClose), and after CloseTrimmed, on every platform, to
// the size it was given. It does not sync.
func (f *File) Close() error {
	f.growMu.Lock()
	defer f.growMu.Unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	f.read.Store(nil)
	var errs []error
	for i, m := range f.r.mapped {
		mm := mmap.MMap(m)
		if err := mm.Unmap(); err != nil {
			errs = append(errs, fmt.Errorf("mmapfile: unmap region %d of %s: %w", i, f.path, err))
		}
	}
	f.r.mapped = nil
	if err := f.trimOnClose(); err != nil {
		errs = append(errs, fmt.Errorf("mmapfile: trim %s: %w", f.path, err))
	}
	// Unlock explicitly rather than rely on close: a child forked but not
	// yet exec'd shares the open file description, and with it the lock.
	if err := unlockFile(f.f); err != nil {
		errs = append(errs, fmt.Errorf("mmapfile: unlock %s: %w", f.path, err))
	}
	if err := f.f.Close(); err != nil {
		errs = append(errs, fmt.Errorf("mmapfile: close: %w", err))
	}
	return errors.Join(errs...)
}

// CloseTrimmed is Close, cutting the file to size bytes once every region
// is unmapped, so that no read or store reaches the bytes cut: for an
// owner that grew the file ahead of its needs and holds nothing from
// size on. A read-only File, or a size not below the file's, cuts
// nothing. The cut is not synced: a crash may leave the file at either
// length, and nothing reads past size.
func (f *File) CloseTrimmed(size int64) error {
	f.growMu.Lock()
	if size > 0 && !f.closed {
		f.trimTo = size
	}
	f.growMu.Unlock()
	return f.Close()
}

// usable returns ErrClosed or ErrPoisoned if the handle refuses mutations.
// The caller holds mu or growMu.
func (f *File) usable() error {
	if f.closed {
		return ErrClosed
	}
	if cause := f.poisoned.Load(); cause != nil {
		return fmt.Errorf("%w (first failure: %v)", ErrPoisoned, *cause)
	}
	return nil
}

// poison records err as the reason the handle refuses mutations from now on
// (the first reason wins) and returns err.
func (f *File) poison(err error) error {
	f.poisoned.CompareAndSwap(nil, &err)
	return err
}
