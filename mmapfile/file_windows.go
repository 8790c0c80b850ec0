package mmapfile

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// On Windows a mapping's file offset must be a multiple of the allocation
// granularity, 64 KiB on every Windows version; region sizes are.
//
// SyncRange is FlushViewOfFile of its pages (which writes them back)
// then FlushFileBuffers (which waits for every write of the file and
// flushes the device's cache); Sync is FlushViewOfFile of every mapped
// page then FlushFileBuffers, since FlushFileBuffers alone does not see
// pages dirtied through a view. FlushViewOfFile failing with
// ERROR_LOCK_VIOLATION while the memory manager writes the same pages is
// retried. Grow reserves space by mapping: a read-write mapping longer
// than the file extends the file to the mapping's end, so while open the
// file on disk is a whole number of regions plus MaxViewBytes, and a full
// disk is a mapping error here (wrapping syscall.ENOSPC); Close trims the
// file back to its live size. After a crash the file keeps the extra
// length, which reads as zero: the engine reads nothing past its own end.
// Close unmaps through mmap-go, which flushes each view first: on
// Windows a Close costs a flush per region.
// A directory entry is made durable by NTFS's own journal: Create
// flushes the file alone. The lock is LockFileEx on one byte far past any
// data (Windows byte-range locks are mandatory, so the data itself stays
// unlocked), exclusive or shared as flock would be.
const mapAlignBytes = 64 << 10

// removeOpen says a file can be removed while this process holds it
// open: on Windows, no (Go opens files without FILE_SHARE_DELETE), so an
// abandoned creation is closed first, and the removal then fails, as it
// should, if another process opened the file in between.
const removeOpen = false

// lockOffsetHigh places the lock byte at 2^63 - 2^32: past any file.
const lockOffsetHigh = 0x7fffffff

// lockFile takes the handle's lock, shared if readOnly and exclusive
// otherwise, without waiting; busy says another handle holds it.
func lockFile(osf *os.File, readOnly bool) (busy bool, err error) {
	flags := uint32(windows.LOCKFILE_FAIL_IMMEDIATELY)
	if !readOnly {
		flags |= windows.LOCKFILE_EXCLUSIVE_LOCK
	}
	ol := windows.Overlapped{OffsetHigh: lockOffsetHigh}
	err = windows.LockFileEx(windows.Handle(osf.Fd()), flags, 0, 1, 0, &ol)
	return errors.Is(err, windows.ERROR_LOCK_VIOLATION), err
}

// unlockFile releases lockFile's lock.
func unlockFile(osf *os.File) error {
	ol := windows.Overlapped{OffsetHigh: lockOffsetHigh}
	return windows.UnlockFileEx(windows.Handle(osf.Fd()), 0, 1, 0, &ol)
}

// syncDir does nothing: NTFS journals directory entries itself, and
// Windows offers no flush of a directory.
func syncDir(string) error { return nil }

// flushRetries bounds the retries of a FlushViewOfFile that met the
// memory manager writing the same pages.
const flushRetries = 16

// flushPages writes back the dirty pages of m, part of a mapping.
func flushPages(m []byte) error {
	if len(m) == 0 {
		return nil
	}
	var err error
	for range flushRetries {
		err = windows.FlushViewOfFile(uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)))
		if !errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
			return err
		}
	}
	return err
}

// flushBuffers waits for every write of the file and flushes the device.
func (f *File) flushBuffers() error {
	return windows.FlushFileBuffers(windows.Handle(f.f.Fd()))
}

// syncCreated makes a new file durable.
func (f *File) syncCreated() error { return f.flushBuffers() }

// syncData is Sync's barrier: every mapped page written back, then the
// file's buffers flushed.
func (f *File) syncData() error {
	if err := f.flushAllPages(); err != nil {
		return err
	}
	return f.flushBuffers()
}

// trimOnClose truncates a read-write file, whose mappings extended it to
// whole regions, back to its live size; the views are unmapped by then.
func (f *File) trimOnClose() error {
	if f.readOnly {
		return nil
	}
	size := f.size
	if f.trimTo > 0 && f.trimTo < size {
		size = f.trimTo
	}
	if err := f.f.Truncate(size); err != nil {
		return fmt.Errorf("truncate to %d bytes: %w", size, err)
	}
	return nil
}

// flushDevice completes SyncRange: FlushViewOfFile does not wait for the
// disk.
func (f *File) flushDevice() error { return f.flushBuffers() }

// mapLength returns the length to map for the region at off of a file of
// size bytes: a read-write mapping takes the whole region and its overlap
// (which extends the file); a read-only one cannot reach past the end of
// the file, and the file does not grow.
func (f *File) mapLength(off, size int64) int {
	n := f.r.regionBytes + MaxViewBytes
	if f.readOnly {
		n = min(n, size-off)
	}
	return int(n)
}

// mapError reports a mapping that failed for want of space as ENOSPC, as
// Storage.Grow promises.
func mapError(err error) error {
	if errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL) {
		return fmt.Errorf("%w: %w", syscall.ENOSPC, err)
	}
	return err
}

// reserve does nothing: the mapping Grow makes next extends the file, and
// the bytes of regions already mapped are in the file already.
func (f *File) reserve(old, size int64) error { return nil }

// shrinkBack returns err: the file cannot be truncated while mapped, and
// its extra length is harmless (see above).
func (f *File) shrinkBack(old int64, err error) error { return err }
