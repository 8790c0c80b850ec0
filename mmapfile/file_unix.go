//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mmapfile

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapAlignBytes is the alignment a mapping's file offset needs beyond
// the OS page size: none on Unix.
const mapAlignBytes = PageBytes

// removeOpen says a file can be removed while this process holds it
// open and locked: on Unix, yes.
const removeOpen = true

// lockFile takes flock on osf, shared if readOnly and exclusive otherwise,
// without waiting; busy says another handle holds it.
func lockFile(osf *os.File, readOnly bool) (busy bool, err error) {
	how := unix.LOCK_EX
	if readOnly {
		how = unix.LOCK_SH
	}
	err = ignoringEINTR(func() error { return unix.Flock(int(osf.Fd()), how|unix.LOCK_NB) })
	return errors.Is(err, unix.EWOULDBLOCK), err
}

// unlockFile releases lockFile's lock.
func unlockFile(osf *os.File) error {
	return unix.Flock(int(osf.Fd()), unix.LOCK_UN)
}

// syncDir makes the entries of directory dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return ignoringEINTR(func() error { return fsync(int(d.Fd())) })
}

// flushPages writes back the dirty pages of m, a page-aligned part of a
// mapping, and waits for them: msync(MS_SYNC).
func flushPages(m []byte) error {
	return ignoringEINTR(func() error { return msync(m, unix.MS_SYNC) })
}

// mapLength returns the length to map for the region at off of a file of
// size bytes: the whole region and its overlap, which may run past the
// end of the file (the part past it is never read).
func (f *File) mapLength(off, size int64) int {
	return int(f.r.regionBytes + MaxViewBytes)
}

// mapError returns a mapping failure as the error to report.
func mapError(err error) error { return err }

// trimOnClose cuts the file to the size CloseTrimmed gave, if any; the
// file is otherwise as long as Grow made it.
func (f *File) trimOnClose() error {
	if f.readOnly || f.trimTo <= 0 || f.trimTo >= f.size {
		return nil
	}
	if err := ignoringEINTR(func() error { return unix.Ftruncate(int(f.f.Fd()), f.trimTo) }); err != nil {
		return fmt.Errorf("ftruncate to %d bytes: %w", f.trimTo, err)
	}
	return nil
}

// zeroFillBytes is the largest write reserveZeros issues at once.
const zeroFillBytes = 1 << 20

// reserveZeros extends the file from old to size bytes by writing zeros,
// which allocates the blocks now: a bare ftruncate would leave a hole that
// a store through the mapping fills, and a full disk would then be a
// SIGBUS.
func (f *File) reserveZeros(old, size int64) error {
	if err := ignoringEINTR(func() error { return unix.Ftruncate(int(f.f.Fd()), size) }); err != nil {
		return fmt.Errorf("ftruncate: %w", err)
	}
	zeros := make([]byte, min(size-old, zeroFillBytes))
	for off := old; off < size; off += int64(len(zeros)) {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
	}
	return nil
}

// shrinkBack truncates the file back to the live size old after a failed
// Grow (which may have extended it part way) and returns err.
func (f *File) shrinkBack(old int64, err error) error {
	if terr := ignoringEINTR(func() error { return unix.Ftruncate(int(f.f.Fd()), old) }); terr != nil {
		err = errors.Join(err, fmt.Errorf("mmapfile: truncate %s back to %d bytes: %w", f.path, old, terr))
	}
	return err
}

// ignoringEINTR calls fn until it fails with something other than EINTR.
// An interrupted call did not report a write-back error, so repeating it
// is not the forbidden retry of a failed sync.
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}
