package txn

import (
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"
)

// Snapshot reads the database as it was when the snapshot was taken,
// whatever commits later. It holds on to the pages it reads: Close it to
// let them be reused (checkpoints free the journal whether or not
// snapshots are open). A Snapshot is safe for concurrent use.
type Snapshot struct {
	db      *DB
	v       *version
	pin     *snapPin
	cleanup runtime.Cleanup
}

type snapPin struct {
	once     sync.Once
	released atomic.Bool
	db       *DB
	v        *version
}

func (p *snapPin) release() bool {
	released := false
	p.once.Do(func() {
		p.released.Store(true)
		p.db.unpin(p.v)
		released = true
	})
	return released
}

// Snapshot takes a snapshot of the latest commit.
func (db *DB) Snapshot() (*Snapshot, error) {
	s, err := db.snapshot()
	if err != nil {
		return nil, err
	}
	// A safety net only: a snapshot garbage collected without Close
	// would keep its pages from reuse for ever.
	log := db.opts.logger()
	p := s.pin
	s.cleanup = runtime.AddCleanup(s, func(p *snapPin) {
		if p.release() {
			log.Warn("persy: a snapshot was garbage collected without Close; its pages were kept from reuse until now")
		}
	}, p)
	return s, nil
}

// snapshot takes a snapshot of the latest commit with no safety net, for
// a caller sure to close it (View): the net costs more than a small
// read.
func (db *DB) snapshot() (*Snapshot, error) {
	v, err := db.pin()
	if err != nil {
		return nil, err
	}
	p := &snapPin{db: db, v: v}
	return &Snapshot{db: db, v: v, pin: p}, nil
}

// Close releases the snapshot. Closing twice is harmless.
func (s *Snapshot) Close() error {
	s.pin.release()
	// A queued cleanup holds the pin, and through it the database, until
	// the collector runs it: drop it so a closed snapshot holds nothing.
	s.cleanup.Stop()
	runtime.KeepAlive(s) // Stop is sure to remove it only while s is reachable
	return nil
}

func (s *Snapshot) check() error {
	if s == nil || s.db == nil {
		return errors.New("persy: a snapshot not taken by DB.Snapshot")
	}
	if s.db.closedNow.Load() || s.pin.released.Load() {
		return ErrClosed
	}
	return nil
}

func (s *Snapshot) seg(name string) (*segState, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	seg := s.v.seg(name)
	if seg == nil || reserved(name) {
		return nil, fmt.Errorf("%w: %q", ErrSegmentNotFound, name)
	}
	return seg, nil
}

// Read returns a copy of record id of segment seg.
func (s *Snapshot) Read(seg string, id RecordID) ([]byte, error) {
	ss, err := s.seg(seg)
	if err != nil {
		return nil, err
	}
	n, ok := id.slot()
	if !ok {
		return nil, fmt.Errorf("%w: %v", ErrRecordNotFound, id)
	}
	data, _, err := s.db.readRecord(ss, n)
	runtime.KeepAlive(s) // its cleanup must not unpin the version mid-read
	if err == ErrRecordNotFound {
		err = fmt.Errorf("%w: %v", ErrRecordNotFound, id)
	}
	return data, err
}

// Scan returns the records of segment seg in id order. An error ends the
// sequence as its last pair.
func (s *Snapshot) Scan(seg string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		ss, err := s.seg(seg)
		if err != nil {
			yield(Record{}, err)
			return
		}
		scanMerge(s.db, ss, nil, nil, yield)
		runtime.KeepAlive(s)
	}
}

// Segments returns the names of the segments, sorted.
func (s *Snapshot) Segments() ([]string, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(s.v.segs))
	for _, seg := range s.v.segs {
		if !reserved(seg.name) {
			names = append(names, seg.name)
		}
	}
	return names, nil
}

// SegmentExists reports whether the segment named name exists.
func (s *Snapshot) SegmentExists(name string) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	return !reserved(name) && s.v.seg(name) != nil, nil
}
