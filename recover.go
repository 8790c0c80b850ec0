package persy

import (
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/txn"
)

// Recovery is a database opened as far as recovery: the transactions the
// journal holds are listed, and the caller decides each prepared one
// before Finish opens the database.
type Recovery struct {
	r *txn.Recovery
}

// RecoveredTx is a transaction recovery found in the journal.
type RecoveredTx = txn.RecoveredTx

// OpenRecover opens the database file at path and stops before deciding
// the prepared transactions: the Recovery lists every transaction the
// journal holds, takes a decision for each prepared one and Finish opens
// the database.
func OpenRecover(path string, opts Options) (*Recovery, error) {
	x, err := txn.OpenRecover(path, opts)
	if err != nil {
		return nil, err
	}
	return &Recovery{r: x}, nil
}

// Recover opens the database held in s, which must hold one, up to the
// decisions on its prepared transactions. s belongs to the recovery from
// the call on, whatever its outcome: the database Finish returns closes
// it at its Close, Recovery.Close closes it, and Recover and Finish close
// it when they fail. The caller never closes it.
func Recover(s mmapfile.Storage, opts Options) (*Recovery, error) {
	x, err := txn.Recover(s, opts)
	if err != nil {
		return nil, err
	}
	return &Recovery{r: x}, nil
}

// Transactions returns the transactions the journal holds, in the order
// they started.
func (r *Recovery) Transactions() []RecoveredTx {
	return r.r.Transactions()
}

// Commit decides to commit every prepared transaction of id.
func (r *Recovery) Commit(id []byte) error { return r.r.Commit(id) }

// Rollback decides to roll back every prepared transaction of id.
func (r *Recovery) Rollback(id []byte) error { return r.r.Rollback(id) }

// Close gives up the recovery without deciding or writing anything: it
// closes the storage, which releases the file's lock, and leaves the
// prepared transactions for the next open. After Close the decisions
// and Finish fail with ErrTxDone; a second Close does nothing.
func (r *Recovery) Close() error { return r.r.Close() }

// Finish carries out the decisions, decides the prepared transactions
// left with Options.OnPrepared (commit if nil), writes a checkpoint if
// recovery changed anything, and returns the open database. With
// Options.ReadOnly it decides and writes nothing: the database it opens
// reads what was committed, without the prepared transactions.
func (r *Recovery) Finish() (*DB, error) {
	x, err := r.r.Finish()
	if err != nil {
		return nil, err
	}
	return &DB{e: x}, nil
}
