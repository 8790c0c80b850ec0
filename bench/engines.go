package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	persy "github.com/gopersy/persy"
	bolt "go.etcd.io/bbolt"
)

// store is what the workloads ask of an engine, each at its durable
// defaults: a commit returns once the engine says it survives a power
// loss. Records are numbered from 0; the engine maps a number to its
// own way of finding the record (a RecordID for persy-go, a big-endian
// key for the peers).
type store interface {
	// load inserts the records first..first+n-1, per to a transaction.
	load(first, n, per int) error
	// commitOne inserts record i in a transaction of its own. It may be
	// called from several goroutines at once.
	commitOne(i int) error
	// get returns the value of record i.
	get(i int) ([]byte, error)
	// scan calls fn with every record's value, in the engine's order.
	scan(fn func(v []byte)) error
	// update replaces the values of records is in one transaction with
	// version ver of each.
	update(is []int, ver int) error
	// ixPut puts keys (value: the key's bitwise complement), per to a
	// transaction; ixGet reads one; ixRange counts up to n entries from
	// lo on.
	ixPut(keys []uint64, per int) error
	ixGet(k uint64) (uint64, bool, error)
	ixRange(lo uint64, n int) (int, error)
	close() error
}

// engines lists the engines by name, persy-go first.
var engines = []string{"persy", "bbolt", "pebble"}

func openStore(engine, dir string) (store, error) {
	switch engine {
	case "persy":
		return openPersy(dir)
	case "bbolt":
		return openBolt(dir)
	case "pebble":
		return openPebble(dir)
	}
	return nil, fmt.Errorf("unknown engine %q", engine)
}

// valueBytes is the size of a record's value.
const valueBytes = 100

// value returns version ver of record i's value: its number and version
// first, then bytes derived from both, so that a read of the wrong
// record or version does not match.
func value(i, ver int) []byte {
	v := make([]byte, valueBytes)
	binary.BigEndian.PutUint64(v, uint64(i))
	binary.BigEndian.PutUint32(v[8:], uint32(ver))
	x := uint32(i)*2654435761 + uint32(ver)*40503
	for j := 12; j < len(v); j++ {
		x = x*1664525 + 1013904223
		v[j] = byte(x >> 24)
	}
	return v
}

func key(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

func u64(k uint64) []byte { return binary.BigEndian.AppendUint64(nil, k) }

// ---- persy-go ----

type persyStore struct {
	db   *persy.DB
	path string
	mu   sync.Mutex
	ids  []persy.RecordID // by record number, kept across reopen
}

const persySeg = "bench"

var persyIx = persy.IndexOf[uint64, uint64]("ix")

func openPersy(dir string) (*persyStore, error) {
	path := filepath.Join(dir, "persy.db")
	db, err := persy.OpenOrCreate(path, persy.Options{}, func(tx *persy.Tx) error {
		if err := tx.CreateSegment(persySeg); err != nil {
			return err
		}
		return persy.CreateIndex[uint64, uint64](tx, "ix", persy.Replace)
	})
	if err != nil {
		return nil, err
	}
	return &persyStore{db: db, path: path}, nil
}

func (s *persyStore) setID(i int, id persy.RecordID) {
	s.mu.Lock()
	for len(s.ids) <= i {
		s.ids = append(s.ids, persy.RecordID{})
	}
	s.ids[i] = id
	s.mu.Unlock()
}

func (s *persyStore) id(i int) persy.RecordID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ids[i]
}

func (s *persyStore) load(first, n, per int) error {
	for i := first; i < first+n; i += per {
		tx, err := s.db.Begin(persy.TxOptions{})
		if err != nil {
			return err
		}
		for j := i; j < min(i+per, first+n); j++ {
			id, err := tx.Insert(persySeg, value(j, 0))
			if err != nil {
				_ = tx.Rollback()
				return err
			}
			s.setID(j, id)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func (s *persyStore) commitOne(i int) error {
	tx, err := s.db.Begin(persy.TxOptions{})
	if err != nil {
		return err
	}
	id, err := tx.Insert(persySeg, value(i, 0))
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.setID(i, id)
	return nil
}

func (s *persyStore) get(i int) ([]byte, error) {
	var v []byte
	err := s.db.View(func(sn *persy.Snapshot) error {
		var err error
		v, err = sn.Read(persySeg, s.id(i))
		return err
	})
	return v, err
}

func (s *persyStore) scan(fn func([]byte)) error {
	return s.db.View(func(sn *persy.Snapshot) error {
		for r, err := range sn.Scan(persySeg) {
			if err != nil {
				return err
			}
			fn(r.Data)
		}
		return nil
	})
}

func (s *persyStore) update(is []int, ver int) error {
	return s.db.Update(func(tx *persy.Tx) error {
		for _, i := range is {
			if err := tx.Update(persySeg, s.id(i), value(i, ver)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *persyStore) ixPut(keys []uint64, per int) error {
	for i := 0; i < len(keys); i += per {
		err := s.db.Update(func(tx *persy.Tx) error {
			for _, k := range keys[i:min(i+per, len(keys))] {
				if err := persyIx.Put(tx, k, ^k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *persyStore) ixGet(k uint64) (v uint64, ok bool, err error) {
	err = s.db.View(func(sn *persy.Snapshot) error {
		v, ok, err = persyIx.One(sn, k)
		return err
	})
	return v, ok, err
}

func (s *persyStore) ixRange(lo uint64, n int) (int, error) {
	c := 0
	err := s.db.View(func(sn *persy.Snapshot) error {
		for _, err := range persyIx.Range(sn, persy.Included(lo), persy.Unbounded[uint64]()) {
			if err != nil {
				return err
			}
			if c++; c == n {
				break
			}
		}
		return nil
	})
	return c, err
}

func (s *persyStore) close() error { return s.db.Close() }

// ---- bbolt ----

type boltStore struct{ db *bolt.DB }

var (
	boltData = []byte("bench")
	boltIx   = []byte("ix")
)

func openBolt(dir string) (*boltStore, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, nil)
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(boltData); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(boltIx)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &boltStore{db}, nil
}

func (s *boltStore) load(first, n, per int) error {
	for i := first; i < first+n; i += per {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(boltData)
			for j := i; j < min(i+per, first+n); j++ {
				if err := b.Put(key(j), value(j, 0)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *boltStore) commitOne(i int) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(boltData).Put(key(i), value(i, 0)) })
}

func (s *boltStore) get(i int) ([]byte, error) {
	var v []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v = append(v, tx.Bucket(boltData).Get(key(i))...)
		return nil
	})
	return v, err
}

func (s *boltStore) scan(fn func([]byte)) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(boltData).ForEach(func(_, v []byte) error { fn(v); return nil })
	})
}

func (s *boltStore) update(is []int, ver int) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltData)
		for _, i := range is {
			if err := b.Put(key(i), value(i, ver)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) ixPut(keys []uint64, per int) error {
	for i := 0; i < len(keys); i += per {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(boltIx)
			for _, k := range keys[i:min(i+per, len(keys))] {
				if err := b.Put(u64(k), u64(^k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *boltStore) ixGet(k uint64) (v uint64, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(boltIx).Get(u64(k)); len(b) == 8 {
			v, ok = binary.BigEndian.Uint64(b), true
		}
		return nil
	})
	return v, ok, err
}

func (s *boltStore) ixRange(lo uint64, n int) (int, error) {
	c := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		cur := tx.Bucket(boltIx).Cursor()
		for k, _ := cur.Seek(u64(lo)); k != nil && c < n; k, _ = cur.Next() {
			c++
		}
		return nil
	})
	return c, err
}

func (s *boltStore) close() error { return s.db.Close() }

// ---- Pebble ----

type pebbleStore struct{ db *pebble.DB }

// The two keyspaces: records under 'r', index entries under 'i'.
func pebbleKey(i int) []byte      { return append([]byte{'r'}, key(i)...) }
func pebbleIxKey(k uint64) []byte { return append([]byte{'i'}, u64(k)...) }

// quiet drops Pebble's informational log lines, which would interleave
// with the table; errors still reach stderr.
type quiet struct{}

func (quiet) Infof(string, ...any) {}
func (quiet) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
}
func (quiet) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pebble: "+format+"\n", args...)
	os.Exit(2)
}

func openPebble(dir string) (*pebbleStore, error) {
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{Logger: quiet{}})
	if err != nil {
		return nil, err
	}
	return &pebbleStore{db}, nil
}

func (s *pebbleStore) load(first, n, per int) error {
	for i := first; i < first+n; i += per {
		b := s.db.NewBatch()
		for j := i; j < min(i+per, first+n); j++ {
			if err := b.Set(pebbleKey(j), value(j, 0), nil); err != nil {
				return err
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return err
		}
		_ = b.Close()
	}
	return nil
}

func (s *pebbleStore) commitOne(i int) error {
	return s.db.Set(pebbleKey(i), value(i, 0), pebble.Sync)
}

func (s *pebbleStore) get(i int) ([]byte, error) {
	v, c, err := s.db.Get(pebbleKey(i))
	if err != nil {
		return nil, err
	}
	v = append([]byte(nil), v...)
	return v, c.Close()
}

func (s *pebbleStore) scan(fn func([]byte)) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{'r'}, UpperBound: []byte{'s'}})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return err
		}
		fn(v)
	}
	return it.Close()
}

func (s *pebbleStore) update(is []int, ver int) error {
	b := s.db.NewBatch()
	defer b.Close()
	for _, i := range is {
		if err := b.Set(pebbleKey(i), value(i, ver), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

func (s *pebbleStore) ixPut(keys []uint64, per int) error {
	for i := 0; i < len(keys); i += per {
		b := s.db.NewBatch()
		for _, k := range keys[i:min(i+per, len(keys))] {
			if err := b.Set(pebbleIxKey(k), u64(^k), nil); err != nil {
				return err
			}
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return err
		}
		_ = b.Close()
	}
	return nil
}

func (s *pebbleStore) ixGet(k uint64) (uint64, bool, error) {
	v, c, err := s.db.Get(pebbleIxKey(k))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer c.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("index value of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), true, nil
}

func (s *pebbleStore) ixRange(lo uint64, n int) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: pebbleIxKey(lo), UpperBound: []byte{'j'}})
	if err != nil {
		return 0, err
	}
	c := 0
	for ok := it.First(); ok && c < n; ok = it.Next() {
		c++
	}
	return c, it.Close()
}

func (s *pebbleStore) close() error { return s.db.Close() }
