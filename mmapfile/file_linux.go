package mmapfile

import (
	"errors"

	"golang.org/x/sys/unix"
)

// On Linux msync(MS_SYNC) of a shared file mapping writes the range back
// and waits for it through the file system's fsync of that range, which
// flushes the device's cache: SyncRange is a barrier for its pages alone.
// Sync is fdatasync, which also makes the file size durable. Grow
// reserves blocks with fallocate, or by writing zeros where the file
// system lacks it.

// The system calls behind the barriers and the space reservation, as
// variables so that tests can inject failures (an EIO from a barrier, a
// full disk, a file system without fallocate).
var (
	fdatasync = unix.Fdatasync
	fsync     = unix.Fsync
	msync     = unix.Msync
	fallocate = unix.Fallocate
)

// syncCreated makes a new file durable: fsync, for its metadata too.
func (f *File) syncCreated() error {
	return ignoringEINTR(func() error { return fsync(int(f.f.Fd())) })
}

// syncData is Sync's barrier: fdatasync.
func (f *File) syncData() error {
	return ignoringEINTR(func() error { return fdatasync(int(f.f.Fd())) })
}

// flushDevice completes SyncRange: on Linux msync already reached the
// device.
func (f *File) flushDevice() error { return nil }

// reserve extends the file from old to size bytes with the new blocks
// allocated.
func (f *File) reserve(old, size int64) error {
	err := ignoringEINTR(func() error { return fallocate(int(f.f.Fd()), 0, old, size-old) })
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	return f.reserveZeros(old, size)
}
