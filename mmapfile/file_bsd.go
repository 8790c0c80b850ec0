//go:build dragonfly || freebsd || netbsd || openbsd

package mmapfile

import "golang.org/x/sys/unix"

// On the BSDs msync(MS_SYNC) writes the pages back but is not documented
// to flush the device's cache; fsync is (FreeBSD's file systems issue a
// cache flush with it). SyncRange is msync(MS_SYNC) of its pages then
// fsync, Sync is fsync: both make the file size durable too. Grow
// reserves space by writing zeros.

// The system calls behind the barriers, as variables so that tests can
// inject failures.
var (
	fsync = unix.Fsync
	msync = unix.Msync
)

// syncCreated makes a new file durable.
func (f *File) syncCreated() error { return f.syncData() }

// syncData is Sync's barrier: fsync.
func (f *File) syncData() error {
	return ignoringEINTR(func() error { return fsync(int(f.f.Fd())) })
}

// flushDevice completes SyncRange.
func (f *File) flushDevice() error { return f.syncData() }

// reserve extends the file from old to size bytes with the new blocks
// allocated.
func (f *File) reserve(old, size int64) error { return f.reserveZeros(old, size) }
