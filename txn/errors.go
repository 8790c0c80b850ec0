package txn

import (
	"errors"

	"github.com/gopersy/persy/internal/invariant"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

// The errors persy-go returns, for errors.Is. Errors are wrapped with
// context; compare with errors.Is, never with ==.
var (
	ErrRecordNotFound   = errors.New("persy: record not found")
	ErrSegmentNotFound  = errors.New("persy: segment not found")
	ErrSegmentExists    = errors.New("persy: segment already exists")
	ErrVersionNotLatest = errors.New("persy: record changed since the transaction read it")
	ErrTimeout          = errors.New("persy: timed out waiting for a lock")
	ErrTxIDTooLong      = errors.New("persy: transaction id longer than MaxTxIDBytes")
	ErrRecordTooBig     = errors.New("persy: record larger than MaxRecordBytes")
	ErrNameTooLong      = errors.New("persy: name longer than its limit (MaxNameBytes, MaxIndexNameBytes)")
	ErrEmptyName        = errors.New("persy: empty name")
	ErrTxDone           = errors.New("persy: transaction already committed or rolled back")
	// ErrInternal marks a bug in persy-go found by one of its checks of
	// what cannot happen (a lock released that is not held, a slot
	// handed out while occupied): the database stops; reopen it.
	ErrInternal = invariant.ErrInternal
	// ErrReservedName is returned for a segment name that starts with
	// "+_": such names are the segments that hold indexes.
	ErrReservedName      = errors.New("persy: segment names starting with \"+_\" are reserved")
	ErrIndexNotFound     = errors.New("persy: index not found")
	ErrIndexExists       = errors.New("persy: index already exists")
	ErrIndexTypeMismatch = errors.New("persy: index key or value type differs from its definition")
	// ErrDuplicateKey is returned by the prepare of a transaction that
	// leaves two values on one key of an Exclusive index; the error
	// wrapping it names the index and the key.
	ErrDuplicateKey  = errors.New("persy: duplicate key in an Exclusive index")
	ErrKeyTooBig     = errors.New("persy: index key larger than MaxKeyBytes")
	ErrValueTooBig   = errors.New("persy: index value larger than MaxValueBytes")
	ErrClosed        = mmapfile.ErrClosed
	ErrLocked        = mmapfile.ErrLocked
	ErrPoisoned      = mmapfile.ErrPoisoned
	ErrReadOnly      = mmapfile.ErrReadOnly // a change to a database opened with Options.ReadOnly
	ErrNotPersyFile  = page.ErrNotPersyFile
	ErrFormatVersion = page.ErrFormatVersion
	// ErrUnknownTransaction is returned by Recovery.Commit and Rollback for
	// an id that names no prepared transaction.
	ErrUnknownTransaction = errors.New("persy: no prepared transaction has this id")
)

// CorruptError reports a page of the file that fails its checks: torn,
// corrupt, stale, misdirected or beyond the file. Bad bytes on disk give
// this error, never a panic and never wrong data.
type CorruptError = page.CorruptError
