package txn

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/segment"
)

// Limits. Each is checked where a value enters, with its own error.
const (
	// MaxTxIDBytes bounds a transaction id (ErrTxIDTooLong).
	MaxTxIDBytes = journal.MaxTxIDBytes
	// MaxNameBytes bounds a segment name (ErrNameTooLong).
	MaxNameBytes = segment.MaxNameBytes
)

// MaxRecordBytes bounds a record (ErrRecordTooBig): one data page of the
// largest size class.
const MaxRecordBytes = segment.MaxRecordBytes

// Strategy says how a transaction's prepare treats records and index
// keys that other transactions changed since it touched them.
type Strategy uint8

const (
	// DefaultStrategy, the zero value, means the database's default in
	// TxOptions (Options.Strategy) and LastWin in Options.
	DefaultStrategy Strategy = iota
	// LastWin commits over changes made since: the last commit wins.
	LastWin
	// VersionOnWrite fails the prepare with ErrVersionNotLatest if a
	// record the transaction updates or deletes, or an index key it
	// changes, changed since it first touched it.
	VersionOnWrite
	// VersionOnRead does the same for every record and index key the
	// transaction read, too.
	VersionOnRead
)

// String names the strategy.
func (s Strategy) String() string {
	switch s {
	case DefaultStrategy:
		return "DefaultStrategy"
	case LastWin:
		return "LastWin"
	case VersionOnWrite:
		return "VersionOnWrite"
	case VersionOnRead:
		return "VersionOnRead"
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// resolve returns the strategy a transaction uses: s, else the database's
// default def, else LastWin; or an error for a value no constant names.
func (s Strategy) resolve(def Strategy) (Strategy, error) {
	if s > VersionOnRead {
		return 0, fmt.Errorf("persy: unknown %v", s)
	}
	if def > VersionOnRead {
		return 0, fmt.Errorf("persy: unknown %v in Options", def)
	}
	if s == DefaultStrategy {
		s = def
	}
	if s == DefaultStrategy {
		s = LastWin
	}
	return s, nil
}

// Decision is what recovery does with a prepared transaction.
type Decision uint8

const (
	// DecideCommit commits it.
	DecideCommit Decision = iota
	// DecideRollback rolls it back.
	DecideRollback
)

// Options configure an open database. The zero value is ready to use.
type Options struct {
	// LockTimeout bounds a prepare's wait for another transaction's
	// locks (ErrTimeout). Zero means DefaultLockTimeout; a negative value
	// means fail at once, without waiting or reading the clock.
	LockTimeout time.Duration
	// Strategy is the default of transactions that set none; zero means
	// LastWin.
	Strategy Strategy
	// OnPrepared decides each transaction recovery finds prepared and
	// not decided: given its id, commit or roll back. Nil commits, as
	// Persy does.
	OnPrepared func(id []byte) Decision
	// CheckpointBytes is how much journal a checkpoint lets pile up
	// before it writes the records and address pages changed since the
	// last one and frees the journal; zero means DefaultCheckpointBytes.
	// The journal's size is its entries' bytes plus four times the
	// bytes its pages leave unused: each synchronous commit takes a
	// page of its own, so a stream of small commits reaches the limit
	// with a quarter of it in pages, long before it does by entries.
	CheckpointBytes int
	// ManualSync turns the background worker off: commits made with
	// TxOptions.BackgroundSync become durable only at DB.Sync, a
	// synchronous commit, a checkpoint (DB.Checkpoint, or one a commit
	// runs as the journal grows) or Close. The crash simulator sets it
	// so that the background step is one it drives.
	ManualSync bool
	// ReadOnly opens the file for reading only, as bbolt's option does:
	// under a shared lock (read-only handles in any number of processes
	// at once; a read-write one fails with ErrLocked while any is open,
	// and a read-only one while a read-write one is), mapped without write
	// access. Recovery runs in memory only: what the journal holds is
	// read, commits are redone in memory, prepared transactions are
	// listed by OpenRecover and left undecided (OnPrepared is not called;
	// their changes are not read), and nothing is written. Every change
	// fails with ErrReadOnly: Begin, Checkpoint, the Recovery's decisions.
	// It opens a file on a read-only mount or a full disk, and never
	// changes a byte of it. OpenStorage with ReadOnly refuses an empty
	// storage, which it would have to format.
	ReadOnly bool
	// IndexNodeBytes is the size past which a node of an index created
	// under these options splits, from index.MinNodeBytes (128) to
	// index.MaxNodeBytes (64 KiB); zero means 4096. It is stored with
	// the index. Small nodes make deep trees of few keys, for tests.
	IndexNodeBytes int
	// Logger receives the operational messages nothing returns to a
	// caller: a background sync that failed (the database has stopped;
	// the next call returns the error too) and a snapshot garbage
	// collected without Close. Nil means slog.Default().
	Logger *slog.Logger
}

// logger returns the logger the options name.
func (o Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// Defaults of Options.
const (
	DefaultLockTimeout     = 10 * time.Second
	DefaultCheckpointBytes = 4 << 20
)

// TxOptions configure a transaction.
type TxOptions struct {
	// ID is the caller's transaction id, at most MaxTxIDBytes, recorded
	// with the prepare and shown by recovery; it need not be unique.
	ID []byte
	// Strategy overrides Options.Strategy; zero (DefaultStrategy) keeps
	// it.
	Strategy Strategy
	// BackgroundSync makes Commit return before the commit is durable:
	// a process crash loses nothing, a power loss may lose the newest
	// background commits, never one before a commit that survives.
	BackgroundSync bool
}

// Status is what recovery found of a transaction.
type Status uint8

// The statuses of a transaction in the journal.
const (
	// StatusStarted: its changes were journaled without a prepare or
	// commit, which a crash cut short; it is rolled back.
	StatusStarted Status = iota + 1
	// StatusPrepared: prepared and undecided; recovery asks.
	StatusPrepared
	// StatusCommitted: committed after the last checkpoint; recovery
	// redoes it.
	StatusCommitted
	// StatusRolledBack: rolled back.
	StatusRolledBack
	// StatusCleaned: committed and in the last checkpoint already.
	StatusCleaned
)

// String names the status.
func (s Status) String() string {
	switch s {
	case StatusStarted:
		return "started"
	case StatusPrepared:
		return "prepared"
	case StatusCommitted:
		return "committed"
	case StatusRolledBack:
		return "rolled back"
	case StatusCleaned:
		return "cleaned"
	}
	return "unknown"
}
