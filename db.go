package persy

import (
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/txn"
)

// DB is an open database. It is safe for concurrent use.
type DB struct {
	e *txn.DB
}

// Check walks every page of the file from its durable root state and
// returns every violation it finds, joined: pages that fail their
// checksums or name another address, address slots pointing at pages
// that are not data pages, catalogue, address and data pages that overlap
// each other, the journal or the free lists, and pages leaked. Each
// violation is a *CorruptError. It checks every index tree twice (ordered,
// balanced, separators bounding their subtrees, every node reached once):
// as the file holds it, and as the database has it in memory, since the
// file may not hold the latest commits yet. It does not compare the
// file's records with the database's memory. Commits wait while it runs.
func (db *DB) Check() error {
	return db.e.Check()
}

// Create creates a new, empty database file at path, which must not
// exist (the error then wraps fs.ErrExist), and closes it. The file
// appears at path only whole: a crash while creating it leaves no file
// there, never one that does not open.
func Create(path string) error {
	return txn.Create(path)
}

// Open opens the database file at path. Transactions recovery finds
// prepared and undecided are decided by opts.OnPrepared (commit if nil).
// A second Open of the same file, in this process or another, fails with
// ErrLocked, unless both opens are read-only (Options.ReadOnly): readers
// share the file.
func Open(path string, opts Options) (*DB, error) {
	x, err := txn.Open(path, opts)
	if err != nil {
		return nil, err
	}
	return &DB{e: x}, nil
}

// OpenOrCreate opens the database file at path, creating it first if it
// does not exist; on creation only, init runs in a transaction. The file
// appears at path only with init committed: it is built under a temporary
// name beside it and linked into place, so a crash or a failing init never
// leaves a file that a later OpenOrCreate would open without init. Of
// creators racing on one path, one file wins; the others open it, or fail
// with ErrLocked while another holds it. With Options.ReadOnly it creates
// nothing: a missing file is an error wrapping fs.ErrNotExist.
func OpenOrCreate(path string, opts Options, init func(tx *Tx) error) (*DB, error) {
	x, err := txn.OpenOrCreate(path, opts, func(t *txn.Tx) error {
		if init == nil {
			return nil
		}
		return init(&Tx{t: t})
	})
	if err != nil {
		return nil, err
	}
	return &DB{e: x}, nil
}

// OpenMemory opens a new database held in memory only.
func OpenMemory(opts Options) (*DB, error) {
	x, err := txn.OpenMemory(opts)
	if err != nil {
		return nil, err
	}
	return &DB{e: x}, nil
}

// OpenStorage opens the database held in s, formatting it first if it is
// empty, and decides prepared transactions as Open does. A storage
// holding what a format cut short by a crash leaves (page.Unformatted:
// at most page.FormatBytes and no valid page past the root slots, so
// nothing committed) is formatted again. s belongs to the database from
// the call on, whatever its outcome: DB.Close closes it, and so does
// OpenStorage itself when it fails. The caller never closes it.
func OpenStorage(s mmapfile.Storage, opts Options) (*DB, error) {
	x, err := txn.OpenStorage(s, opts)
	if err != nil {
		return nil, err
	}
	return &DB{e: x}, nil
}

// Sync makes every commit made so far durable, background ones included.
func (db *DB) Sync() error {
	return db.e.Sync()
}

// Checkpoint writes every change committed since the last checkpoint into
// the file's pages, stores a root state naming them and frees the journal
// they were in: recovery after it has nothing of them to redo. Commits
// run checkpoints on their own as the journal grows. On a database
// opened with Options.ReadOnly it fails with ErrReadOnly; with no room in
// the file for the checkpoint it changes nothing and returns an error
// wrapping syscall.ENOSPC, the journal still holding every commit.
func (db *DB) Checkpoint() error {
	return db.e.Checkpoint()
}

// Close makes every commit durable, writes a checkpoint and closes the
// file. The checkpoint is left out when there is nothing to write, when
// the database is read-only, and when the file has no room for it: the
// journal, durable by then, holds every commit for the next open.
// Prepared transactions not decided stay prepared in the file, for
// recovery to decide. Snapshots and transactions still open fail from
// then on with ErrClosed, and so does a second Close. After a storage
// failure stopped the database, Close still closes the file and returns
// that failure: commits not made durable before it are left to recovery.
func (db *DB) Close() error {
	return db.e.Close()
}

// Snapshot takes a snapshot of the latest commit.
func (db *DB) Snapshot() (*Snapshot, error) {
	x, err := db.e.Snapshot()
	if err != nil {
		return nil, err
	}
	return &Snapshot{s: x}, nil
}

// Begin starts a transaction.
func (db *DB) Begin(o TxOptions) (*Tx, error) {
	x, err := db.e.Begin(o)
	if err != nil {
		return nil, err
	}
	return &Tx{t: x}, nil
}

// Update runs fn in a transaction and commits it; if fn returns an error
// or panics, the transaction is rolled back (and the panic goes on).
func (db *DB) Update(fn func(tx *Tx) error) error {
	return db.e.Update(func(t *txn.Tx) error { return fn(&Tx{t: t}) })
}

// View runs fn on a snapshot, closed when fn returns.
func (db *DB) View(fn func(s *Snapshot) error) error {
	return db.e.View(func(s *txn.Snapshot) error { return fn(&Snapshot{s: s}) })
}
