package persy

import "github.com/gopersy/persy/txn"

// The errors persy-go returns, for errors.Is. Errors are wrapped with
// context; compare with errors.Is, never with ==.
var (
	ErrRecordNotFound   = txn.ErrRecordNotFound
	ErrSegmentNotFound  = txn.ErrSegmentNotFound
	ErrSegmentExists    = txn.ErrSegmentExists
	ErrVersionNotLatest = txn.ErrVersionNotLatest
	ErrTimeout          = txn.ErrTimeout
	ErrTxIDTooLong      = txn.ErrTxIDTooLong
	ErrRecordTooBig     = txn.ErrRecordTooBig
	ErrNameTooLong      = txn.ErrNameTooLong
	ErrEmptyName        = txn.ErrEmptyName
	ErrTxDone           = txn.ErrTxDone
	// ErrInternal marks a bug in persy-go found by one of its checks of
	// what cannot happen (a lock released that is not held, a slot
	// handed out while occupied): the database stops; reopen it.
	ErrInternal = txn.ErrInternal
	// ErrReservedName is returned for a segment name that starts with
	// "+_": such names are the segments that hold indexes.
	ErrReservedName      = txn.ErrReservedName
	ErrIndexNotFound     = txn.ErrIndexNotFound
	ErrIndexExists       = txn.ErrIndexExists
	ErrIndexTypeMismatch = txn.ErrIndexTypeMismatch
	// ErrDuplicateKey is returned by the prepare of a transaction that
	// leaves two values on one key of an Exclusive index; the error
	// wrapping it names the index and the key.
	ErrDuplicateKey  = txn.ErrDuplicateKey
	ErrKeyTooBig     = txn.ErrKeyTooBig
	ErrValueTooBig   = txn.ErrValueTooBig
	ErrClosed        = txn.ErrClosed
	ErrLocked        = txn.ErrLocked
	ErrPoisoned      = txn.ErrPoisoned
	ErrReadOnly      = txn.ErrReadOnly
	ErrNotPersyFile  = txn.ErrNotPersyFile
	ErrFormatVersion = txn.ErrFormatVersion
	// ErrUnknownTransaction is returned by Recovery.Commit and Rollback for
	// an id that names no prepared transaction.
	ErrUnknownTransaction = txn.ErrUnknownTransaction
)

// CorruptError reports a page of the file that fails its checks: torn,
// corrupt, stale, misdirected or beyond the file. Bad bytes on disk give
// this error, never a panic and never wrong data.
type CorruptError = txn.CorruptError
