package persy

import "github.com/gopersy/persy/txn"

// Limits. Each is checked where a value enters, with its own error.
const (
	// MaxTxIDBytes bounds a transaction id (ErrTxIDTooLong).
	MaxTxIDBytes = txn.MaxTxIDBytes
	// MaxNameBytes bounds a segment name (ErrNameTooLong).
	MaxNameBytes = txn.MaxNameBytes
	// MaxIndexNameBytes bounds an index name (ErrNameTooLong).
	MaxIndexNameBytes = txn.MaxIndexNameBytes
	// MaxRecordBytes bounds a record (ErrRecordTooBig): one data page of
	// the largest size class.
	MaxRecordBytes = txn.MaxRecordBytes
)

// Options configure an open database. The zero value is ready to use.
type Options = txn.Options

// Defaults of Options.
const (
	DefaultLockTimeout     = txn.DefaultLockTimeout
	DefaultCheckpointBytes = txn.DefaultCheckpointBytes
)

// TxOptions configure a transaction.
type TxOptions = txn.TxOptions

// Strategy says how a transaction's prepare treats records and index
// keys that other transactions changed since it touched them.
type Strategy = txn.Strategy

// The strategies.
const (
	// DefaultStrategy, the zero value, means the database's default in
	// TxOptions (Options.Strategy) and LastWin in Options.
	DefaultStrategy = txn.DefaultStrategy
	// LastWin commits over changes made since: the last commit wins.
	LastWin = txn.LastWin
	// VersionOnWrite fails the prepare with ErrVersionNotLatest if a
	// record the transaction updates or deletes, or an index key it
	// changes, changed since it first touched it.
	VersionOnWrite = txn.VersionOnWrite
	// VersionOnRead does the same for every record and index key the
	// transaction read, too.
	VersionOnRead = txn.VersionOnRead
)

// Decision is what recovery does with a prepared transaction.
type Decision = txn.Decision

// The decisions.
const (
	// DecideCommit commits it.
	DecideCommit = txn.DecideCommit
	// DecideRollback rolls it back.
	DecideRollback = txn.DecideRollback
)

// Status is what recovery found of a transaction.
type Status = txn.Status

// The statuses of a transaction in the journal.
const (
	// StatusStarted: its changes were journaled without a prepare or
	// commit, which a crash cut short; it is rolled back.
	StatusStarted = txn.StatusStarted
	// StatusPrepared: prepared and undecided; recovery asks.
	StatusPrepared = txn.StatusPrepared
	// StatusCommitted: committed after the last checkpoint; recovery
	// redoes it.
	StatusCommitted = txn.StatusCommitted
	// StatusRolledBack: rolled back.
	StatusRolledBack = txn.StatusRolledBack
	// StatusCleaned: committed and in the last checkpoint already.
	StatusCleaned = txn.StatusCleaned
)
