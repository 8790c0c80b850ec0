package persy

import (
	"iter"

	"github.com/gopersy/persy/txn"
)

// Snapshot reads the database as it was when the snapshot was taken,
// whatever commits later. It holds on to the pages it reads: Close it to
// let them be reused (checkpoints free the journal whether or not
// snapshots are open). A Snapshot is safe for concurrent use.
type Snapshot struct {
	s *txn.Snapshot
}

// Close releases the snapshot. Closing twice is harmless.
func (s *Snapshot) Close() error {
	return s.s.Close()
}

// Read returns a copy of record id of segment seg.
func (s *Snapshot) Read(seg string, id RecordID) ([]byte, error) {
	return s.s.Read(seg, id)
}

// Scan returns the records of segment seg in id order. An error ends the
// sequence as its last pair. Each record's Data is the caller's to keep
// and change; small records' copies share blocks of a few KiB, so a
// record kept keeps its block.
func (s *Snapshot) Scan(seg string) iter.Seq2[Record, error] {
	return s.s.Scan(seg)
}

// Segments returns the names of the segments, sorted.
func (s *Snapshot) Segments() ([]string, error) {
	return s.s.Segments()
}

// SegmentExists reports whether the segment named name exists.
func (s *Snapshot) SegmentExists(name string) (bool, error) {
	return s.s.SegmentExists(name)
}
