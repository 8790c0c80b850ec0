package mmapfile

import (
	"errors"

	"golang.org/x/sys/unix"
)

// On macOS neither fsync nor msync(MS_SYNC) flushes the drive's write
// cache: they hand the data to the drive, which may reorder and lose it
// at a power cut. Every barrier therefore ends with fcntl(F_FULLFSYNC),
// which does flush it: SyncRange is msync(MS_SYNC) of its pages then
// F_FULLFSYNC (a flush of the whole file's cache, the only device flush
// macOS offers), Sync is msync(MS_SYNC) of every mapped page then
// F_FULLFSYNC. Where a file system refuses
// F_FULLFSYNC (some network and FUSE ones) the barrier falls back to
// fsync, as Go's os.File.Sync does, and is then only as strong as that
// file system makes fsync. Grow reserves space by writing zeros.

// The system calls behind the barriers, as variables so that tests can
// inject failures.
var (
	fsync     = unix.Fsync
	msync     = unix.Msync
	fullfsync = func(fd int) error {
		_, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0)
		return err
	}
)

// fullSync is the barrier that reaches stable storage: F_FULLFSYNC, or
// fsync where the file system does not support it.
func (f *File) fullSync() error {
	fd := int(f.f.Fd())
	err := ignoringEINTR(func() error { return fullfsync(fd) })
	if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EINVAL) {
		err = ignoringEINTR(func() error { return fsync(fd) })
	}
	return err
}

// syncCreated makes a new file durable.
func (f *File) syncCreated() error { return f.fullSync() }

// syncData is Sync's barrier: every mapped page written back with msync
// first, since macOS does not document that fsync sees pages dirtied
// through a mapping, then F_FULLFSYNC.
func (f *File) syncData() error {
	if err := f.flushAllPages(); err != nil {
		return err
	}
	return f.fullSync()
}

// flushDevice completes SyncRange: msync left the pages in the drive's
// cache.
func (f *File) flushDevice() error { return f.fullSync() }

// reserve extends the file from old to size bytes with the new blocks
// allocated.
func (f *File) reserve(old, size int64) error { return f.reserveZeros(old, size) }
