// Package journal is persy-go's write-ahead log: typed entries appended
// to a stream that fills pages of the file, each page written once, with
// its CRC, its sequence number and the address of the page after it, made
// durable by Flush. Read returns the longest valid prefix and stops at the
// first torn, stale or corrupt page; an entry cut short by a crash is
// never decoded.
package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind says what an entry records. The engine gives the fields their
// meaning; the journal checks their bounds.
type Kind uint8

// The entry kinds, with the fields each uses besides Tx, the journal's
// number for the transaction.
const (
	KindStart         Kind = iota + 1 // a transaction begins
	KindInsert                        // A segment, B record; Data the record
	KindUpdate                        // A segment, B record; Data the record's new content
	KindDelete                        // A segment, B record
	KindCreateSegment                 // A segment id; Data its name
	KindDropSegment                   // A segment id; Data its name
	KindCreateIndex                   // A index id; Data its name (not written by the engine: an index is a segment of its own, created and dropped as one)
	KindDropIndex                     // A index id; Data its name (likewise)
	KindPageAllocated                 // A the page (not written by the engine: it allocates only at checkpoints)
	KindPageFreed                     // A the page (likewise)
	KindPrepare                       // Data the caller's transaction id
	KindCommit                        // Data the caller's transaction id, for a commit with no Prepare entry (one-phase)
	KindRollback                      // the transaction is rolled back (a prepared one decided so)
	KindCleanup                       // (not written by the engine: a checkpoint cleans every decided transaction)
	KindSlotBefore                    // A address page, B slot; Data a slot's before image (not written by the engine: nothing reaches the file's pages before its commit is durable)
	kindEnd
)

var kindNames = [...]string{KindStart: "start", KindInsert: "insert", KindUpdate: "update", KindDelete: "delete",
	KindCreateSegment: "create-segment", KindDropSegment: "drop-segment", KindCreateIndex: "create-index",
	KindDropIndex: "drop-index", KindPageAllocated: "page-allocated", KindPageFreed: "page-freed",
	KindPrepare: "prepare", KindCommit: "commit", KindRollback: "rollback", KindCleanup: "cleanup",
	KindSlotBefore: "slot-before"}

// String names the kind, as errors print it, or kindN for a value that
// is no kind.
func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind%d", uint8(k))
}

// Limits on an entry.
const (
	// MaxTxIDBytes bounds the caller's transaction id in a Prepare or
	// Commit entry.
	MaxTxIDBytes = 512
	// MaxNameBytes bounds a segment's or index's name.
	MaxNameBytes = 1024
	// MaxEntryBytes bounds an encoded entry: a before image of the
	// largest record and its framing.
	MaxEntryBytes = 2 << 20
)

// Entry is one record of the journal.
type Entry struct {
	Kind    Kind
	Tx      uint64
	A, B, C uint64
	Data    []byte
}

// ErrEntry is wrapped by the errors of entries that break a limit.
var ErrEntry = errors.New("journal: bad entry")

// check reports an entry that breaks a limit.
func (e *Entry) check() error {
	switch {
	case e.Kind == 0 || e.Kind >= kindEnd:
		return fmt.Errorf("%w: kind %d", ErrEntry, uint8(e.Kind))
	case (e.Kind == KindPrepare || e.Kind == KindCommit) && len(e.Data) > MaxTxIDBytes:
		return fmt.Errorf("%w: a transaction id of %d bytes, more than %d", ErrEntry, len(e.Data), MaxTxIDBytes)
	case e.Kind >= KindCreateSegment && e.Kind <= KindDropIndex && (len(e.Data) == 0 || len(e.Data) > MaxNameBytes):
		return fmt.Errorf("%w: a %v name of %d bytes, want 1 to %d", ErrEntry, e.Kind, len(e.Data), MaxNameBytes)
	case noData(e.Kind) && len(e.Data) > 0:
		return fmt.Errorf("%w: a %v entry carries data", ErrEntry, e.Kind)
	}
	return nil
}

func noData(k Kind) bool {
	switch k {
	case KindStart, KindPageAllocated, KindPageFreed, KindRollback, KindCleanup:
		return true
	}
	return false
}

// frameBytes is the length prefix of an encoded entry.
const frameBytes = 4

// appendEntry appends e's encoding: length u32, kind u8, Tx, A, B, C as
// uvarints, then Data.
func appendEntry(b []byte, e *Entry) ([]byte, error) {
	if err := e.check(); err != nil {
		return b, err
	}
	start := len(b)
	b = append(b, 0, 0, 0, 0, byte(e.Kind))
	for _, v := range []uint64{e.Tx, e.A, e.B, e.C} {
		b = binary.AppendUvarint(b, v)
	}
	b = append(b, e.Data...)
	n := len(b) - start - frameBytes
	if n+frameBytes > MaxEntryBytes {
		return b[:start], fmt.Errorf("%w: %d bytes, more than %d", ErrEntry, n+frameBytes, MaxEntryBytes)
	}
	binary.LittleEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// decodeEntry decodes an entry's body (after its length). Data aliases
// body.
func decodeEntry(body []byte) (Entry, error) {
	if len(body) < 1 {
		return Entry{}, fmt.Errorf("%w: empty", ErrEntry)
	}
	e := Entry{Kind: Kind(body[0])}
	p := body[1:]
	for _, f := range []*uint64{&e.Tx, &e.A, &e.B, &e.C} {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return Entry{}, fmt.Errorf("%w: a malformed number", ErrEntry)
		}
		// Reject non-minimal encodings: one entry, one encoding.
		if n != len(binary.AppendUvarint(nil, v)) {
			return Entry{}, fmt.Errorf("%w: a number in %d bytes, not minimal", ErrEntry, n)
		}
		*f, p = v, p[n:]
	}
	if len(p) > 0 {
		e.Data = p
	}
	if err := e.check(); err != nil {
		return Entry{}, err
	}
	return e, nil
}
