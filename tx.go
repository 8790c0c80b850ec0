package persy

import (
	"iter"

	"github.com/gopersy/persy/txn"
)

// Tx is a transaction. Its reads see the latest commits and its own
// changes; nothing it does is seen by others before it commits. A Tx is
// not safe for concurrent use. After Commit, Prepare or Rollback every
// method returns ErrTxDone.
type Tx struct {
	t *txn.Tx
}

// Prepared is a transaction prepared for two-phase commit: durable and
// undecided. Its locks are held until Commit or Rollback.
type Prepared struct {
	p *txn.Prepared
}

// Record is a record of a scan.
type Record = txn.Record

// CreateSegment creates a segment named name.
func (tx *Tx) CreateSegment(name string) error {
	return tx.t.CreateSegment(name)
}

// DropSegment drops the segment named name and every record in it.
func (tx *Tx) DropSegment(name string) error {
	return tx.t.DropSegment(name)
}

// SegmentExists reports whether the segment named name exists.
func (tx *Tx) SegmentExists(name string) (bool, error) {
	return tx.t.SegmentExists(name)
}

// Segments returns the names of the segments, sorted.
func (tx *Tx) Segments() ([]string, error) {
	return tx.t.Segments()
}

// Insert adds a record to segment seg and returns its id. data is copied.
func (tx *Tx) Insert(seg string, data []byte) (RecordID, error) {
	return tx.t.Insert(seg, data)
}

// Read returns a copy of record id of segment seg.
func (tx *Tx) Read(seg string, id RecordID) ([]byte, error) {
	return tx.t.Read(seg, id)
}

// Update replaces the content of record id of segment seg. data is copied.
func (tx *Tx) Update(seg string, id RecordID, data []byte) error {
	return tx.t.Update(seg, id, data)
}

// Delete deletes record id of segment seg.
func (tx *Tx) Delete(seg string, id RecordID) error {
	return tx.t.Delete(seg, id)
}

// Scan returns the records of segment seg in id order, as the transaction
// sees them. An error ends the sequence as its last pair. Each record's
// Data is the caller's to keep and change; small records' copies share
// blocks of a few KiB, so a record kept keeps its block.
func (tx *Tx) Scan(seg string) iter.Seq2[Record, error] {
	return tx.t.Scan(seg)
}

// Rollback ends the transaction, discarding its changes.
func (tx *Tx) Rollback() error {
	return tx.t.Rollback()
}

// Commit commits the transaction in one phase: its changes and its
// commit reach the journal behind a single barrier (shared with other
// commits under way), unless the transaction syncs in background.
func (tx *Tx) Commit() error {
	return tx.t.Commit()
}

// Prepare validates the transaction, takes its locks and makes it durable
// as prepared: after a crash recovery finds it and the caller decides.
// On failure the transaction is over.
func (tx *Tx) Prepare() (*Prepared, error) {
	x, err := tx.t.Prepare()
	if err != nil {
		return nil, err
	}
	return &Prepared{p: x}, nil
}

// Commit commits the prepared transaction. With no room in the file for
// the decision (an error wrapping ENOSPC), nothing changes: the
// transaction stays prepared, and Commit or Rollback may be called again.
func (p *Prepared) Commit() error {
	return p.p.Commit()
}

// Rollback rolls the prepared transaction back; with no room for the
// decision, as Commit.
func (p *Prepared) Rollback() error {
	return p.p.Rollback()
}
