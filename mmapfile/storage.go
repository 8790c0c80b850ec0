// Package mmapfile is the only way persy-go reaches bytes on disk: the
// Storage seam, the real file mapped in fixed regions (File) and a
// heap-backed Storage for in-memory databases (Memory). The simulated disk
// in sim/diskmodel implements the same interface and passes the same
// conformance suite (package mmapfile/storagetest).
package mmapfile

import (
	"errors"
	"fmt"
)

// Storage is a growable byte space with explicit durability barriers.
//
// Live behaviour (what reads see) is the same for every implementation: a
// read sees every byte written before it, in program order. Durability is
// what survives a power loss, and only the barriers below give it; between
// barriers the OS may write any dirty page back at any moment, in any
// order, and a page write may tear at 512-byte sectors.
//
// A Storage is safe for concurrent use by multiple goroutines, except that
// Close must not race with other calls.
type Storage interface {
	// Size returns the live size in bytes.
	Size() int64

	// Grow extends the live size to size bytes (a smaller or equal size is a
	// no-op). New bytes read as zero. Space is reserved, so a full disk is an
	// error here (wrapping syscall.ENOSPC) and never a fault on a later
	// store. Nothing is durable when Grow returns: the new size survives a
	// crash only after a later Sync.
	Grow(size int64) error

	// Bytes returns a read-only view of the n live bytes at off. It requires
	// 0 <= off, 0 <= n <= MaxViewBytes and off+n <= Size(); otherwise it
	// panics, as a slice index out of range would. The view stays valid and
	// keeps showing later writes until Close: growing never moves it. The
	// caller must never store into it; every mutation goes through WriteAt
	// (the simulated disk detects and reports a store that bypassed it).
	Bytes(off int64, n int) []byte

	// WriteAt copies p to the live bytes at off. It requires off >= 0 and
	// off+len(p) <= Size() (ErrOutOfRange otherwise). Nothing is durable
	// when it returns: the bytes may reach the disk at any time, whole or
	// torn at sector granularity, or not at all before the next barrier.
	WriteAt(p []byte, off int64) error

	// SyncRange is a barrier for one range: when it returns nil, every byte
	// of the OS pages covering [off, off+n) is durable with the content it
	// had when SyncRange was called. It says nothing about other pages, nor
	// about the file size (see Sync). A barrier that fails poisons the
	// handle; a call refused before it starts (ErrClosed, ErrPoisoned,
	// ErrOutOfRange) does not.
	SyncRange(off, n int64) error

	// Sync is a full barrier: when it returns nil, every live byte and the
	// live size are durable. A barrier that fails poisons the handle: the
	// pages count as clean although they may not have reached the disk, so a
	// retry proves nothing. A call refused before it starts (ErrClosed,
	// ErrPoisoned) does not.
	Sync() error

	// Close releases the storage. It is idempotent. Views returned by Bytes
	// must not be used after Close. Close is not a barrier.
	Close() error
}

// Geometry of every Storage.
const (
	// SectorBytes is the unit a disk writes atomically (powersafe
	// overwrite): a torn page write leaves each sector old or new.
	SectorBytes = 512
	// PageBytes is the OS page size SyncRange rounds to and the unit the
	// kernel writes back.
	PageBytes = 4096
	// MaxViewBytes is the longest view Bytes hands out. Views of up to this
	// length are contiguous whatever their offset, because every mapped
	// region overlaps the next by MaxViewBytes.
	MaxViewBytes = 1 << 20
)

// Errors returned by every Storage. Callers match them with errors.Is.
var (
	// ErrLocked: another handle, in this process or another, holds the file.
	ErrLocked = errors.New("mmapfile: file is locked by another handle")
	// ErrPoisoned: a sync failed earlier; the handle accepts no further
	// mutation. Close it and reopen, which runs recovery.
	ErrPoisoned = errors.New("mmapfile: storage poisoned by an earlier sync failure")
	// ErrReadOnly: a change to a storage opened read-only.
	ErrReadOnly = errors.New("mmapfile: storage is read-only")
	// ErrClosed: the storage was closed.
	ErrClosed = errors.New("mmapfile: storage closed")
	// ErrOutOfRange: a write or sync outside [0, Size()).
	ErrOutOfRange = errors.New("mmapfile: range outside the storage")
	// ErrFault: the memory of the mapping could not be accessed (an I/O
	// error on page-in, a page the file system could not allocate).
	ErrFault = errors.New("mmapfile: fault accessing mapped memory")
)

// CheckWrite returns ErrOutOfRange, as Storage.WriteAt does, for a write of
// n bytes at off that does not fit in size. Every implementation uses it so
// that all refuse the same writes.
func CheckWrite(off int64, n int, size int64) error {
	if off < 0 || int64(n) > size-off {
		return fmt.Errorf("%w: write of %d bytes at %d, size %d", ErrOutOfRange, n, off, size)
	}
	return nil
}

// CheckView panics, as Storage.Bytes does, on a view outside its contract.
func CheckView(off int64, n int, size int64) {
	if off < 0 || n < 0 || n > MaxViewBytes || int64(n) > size-off {
		panic(fmt.Sprintf("mmapfile: view of %d bytes at %d outside size %d (max view %d)", n, off, size, MaxViewBytes))
	}
}

// CheckSyncRange returns ErrOutOfRange for a SyncRange of n bytes at off
// that does not fit in size.
func CheckSyncRange(off, n, size int64) error {
	if off < 0 || n < 0 || n > size-off {
		return fmt.Errorf("%w: sync of %d bytes at %d, size %d", ErrOutOfRange, n, off, size)
	}
	return nil
}

// PageCover returns the page-aligned range [start, end) covering [off, off+n).
func PageCover(off, n int64) (start, end int64) {
	start = off &^ (PageBytes - 1)
	end = (off + n + PageBytes - 1) &^ (PageBytes - 1)
	return start, end
}
