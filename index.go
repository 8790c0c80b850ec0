package persy

import (
	"fmt"
	"iter"

	"github.com/gopersy/persy/index"
	"github.com/gopersy/persy/txn"
)

// An index is a named B+tree from keys to values, both of a type of Key.
// Its nodes are records of a segment of its own, named "+_I" and the
// index's name: so an index's changes are journaled, checkpointed,
// prepared, recovered and read through snapshots exactly as records are.
// Segment names starting with "+_" are reserved for this; an index and a
// segment may share a name, since their names never meet.
//
// A transaction's puts and removes wait in the transaction; its reads
// merge them with the committed tree. Prepare turns them into node
// changes: it edits the tree as the latest commit has it, locks every
// node it changes and checks that none changed since it read them; if
// one did, a transaction committed in between and prepare edits again.

// Mode says what an index key holds.
type Mode = index.Mode

// The value modes of an index.
const (
	// Replace: a key holds one value; a put overwrites it.
	Replace = index.Replace
	// Exclusive: a key holds one value; a transaction that leaves a key
	// with two distinct values fails at prepare with ErrDuplicateKey.
	Exclusive = index.Exclusive
	// Cluster: a key holds a set of values, read in value order.
	Cluster = index.Cluster
)

// IndexType names the type of an index's keys or values.
type IndexType = index.Type

// IndexInfo describes an index: its name, types, mode and the depth of
// its committed tree.
type IndexInfo = txn.IndexInfo

// Entry is one key of a range and its values, in value order.
type Entry[K, V Key] struct {
	Key    K
	Values []V
}

// Bound is one end of a range of keys: Included, Excluded or Unbounded.
type Bound[K Key] struct {
	kind index.BoundKind
	key  K
}

// Included is a bound that includes k.
func Included[K Key](k K) Bound[K] { return Bound[K]{index.Included, k} }

// Excluded is a bound that excludes k.
func Excluded[K Key](k K) Bound[K] { return Bound[K]{index.Excluded, k} }

// Unbounded is an open end of a range.
func Unbounded[K Key]() Bound[K] { return Bound[K]{} }

func (b Bound[K]) raw() (index.Bound, error) {
	if b.kind == index.Unbounded {
		return index.Bound{}, nil
	}
	k, err := encodeKey(b.key)
	return index.Bound{Kind: b.kind, Key: k}, err
}

func encodeKey[K Key](k K) ([]byte, error) {
	b := encode(k)
	if len(b) > MaxKeyBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrKeyTooBig, len(b))
	}
	return b, nil
}

func encodeValue[V Key](v V) ([]byte, error) {
	b := encode(v)
	if len(b) > MaxValueBytes {
		return nil, fmt.Errorf("%w: %d bytes", ErrValueTooBig, len(b))
	}
	return b, nil
}

// CreateIndex creates an index named name with keys of type K, values of
// type V and mode m. Two transactions creating one name: the second to
// prepare fails with ErrIndexExists.
func CreateIndex[K, V Key](tx *Tx, name string, m Mode) error {
	return tx.t.CreateIndex(name, typeOf[K](), typeOf[V](), m)
}

// DropIndex drops the index named name and every key in it.
func (tx *Tx) DropIndex(name string) error { return tx.t.DropIndex(name) }

// IndexExists reports whether the index named name exists.
func (tx *Tx) IndexExists(name string) (bool, error) { return tx.t.IndexExists(name) }

// Indexes describes the indexes, sorted by name.
func (tx *Tx) Indexes() ([]IndexInfo, error) { return tx.t.Indexes() }

// Indexes describes the indexes, sorted by name.
func (s *Snapshot) Indexes() ([]IndexInfo, error) { return s.s.Indexes() }

// IndexInfo describes the index named name: its types, mode and depth.
func (s *Snapshot) IndexInfo(name string) (IndexInfo, error) { return s.s.IndexInfo(name) }

// AnyEntry is one key of an index and its values, in value order, each
// of the Go type the index was created with: what Snapshot.IndexEntries
// yields.
type AnyEntry struct {
	Key    any
	Values []any
}

// IndexEntries returns every key of the index named name in ascending
// order with its values, decoded whatever the index's types: each key and
// value is an int8, int16, int32, int64, uint8, uint16, uint32, uint64,
// Int128, Uint128, float32, float64, string, []byte or RecordID, as
// IndexInfo's Key and Value say. It is for tools that do not know an
// index's types, such as persy dump; code that knows them uses IndexOf.
// An error ends the sequence as its last pair.
func (s *Snapshot) IndexEntries(name string) iter.Seq2[AnyEntry, error] {
	return func(yield func(AnyEntry, error) bool) {
		info, err := s.s.IndexInfo(name)
		if err != nil {
			yield(AnyEntry{}, err)
			return
		}
		iv, err := s.s.IndexView(name, info.Key, info.Value)
		if err != nil {
			yield(AnyEntry{}, err)
			return
		}
		defer iv.Close()
		decodeRange(iv, index.Bound{}, index.Bound{}, false,
			func(b []byte) (any, error) { return decodeAny(info.Key, b) },
			func(b []byte) (any, error) { return decodeAny(info.Value, b) },
			func(k any, vs []any, err error) bool { return yield(AnyEntry{Key: k, Values: vs}, err) })
	}
}

// IndexExists reports whether the index named name exists.
func (s *Snapshot) IndexExists(name string) (bool, error) { return s.s.IndexExists(name) }

// Reader reads indexes: a *Tx, which sees its own changes, or a
// *Snapshot.
type Reader interface {
	indexView(name string, kt, vt index.Type) (*txn.IndexView, error)
}

func (tx *Tx) indexView(name string, kt, vt index.Type) (*txn.IndexView, error) {
	return tx.t.IndexView(name, kt, vt)
}

func (s *Snapshot) indexView(name string, kt, vt index.Type) (*txn.IndexView, error) {
	return s.s.IndexView(name, kt, vt)
}

// Index is a typed handle on the index named Name, whose keys are of type
// K and values of type V. A handle holds no state: make one wherever it
// is needed. Every method fails with ErrIndexNotFound if there is no such
// index and ErrIndexTypeMismatch if K or V are not its types.
type Index[K, V Key] struct {
	Name string
}

// IndexOf returns a handle on the index named name.
func IndexOf[K, V Key](name string) Index[K, V] { return Index[K, V]{Name: name} }

// Put puts value v on key k: under Replace it overwrites the key's value;
// under Cluster it adds v to the key's values; under Exclusive it adds v
// too, and a key left holding two distinct values fails the prepare with
// ErrDuplicateKey.
func (ix Index[K, V]) Put(tx *Tx, k K, v V) error {
	key, err := encodeKey(k)
	if err != nil {
		return err
	}
	val, err := encodeValue(v)
	if err != nil {
		return err
	}
	return tx.t.IndexPut(ix.Name, typeOf[K](), typeOf[V](), key, val)
}

// Remove removes key k and every value it holds.
func (ix Index[K, V]) Remove(tx *Tx, k K) error {
	key, err := encodeKey(k)
	if err != nil {
		return err
	}
	return tx.t.IndexRemove(ix.Name, typeOf[K](), typeOf[V](), key)
}

// RemoveValue removes value v from key k.
func (ix Index[K, V]) RemoveValue(tx *Tx, k K, v V) error {
	key, err := encodeKey(k)
	if err != nil {
		return err
	}
	val, err := encodeValue(v)
	if err != nil {
		return err
	}
	return tx.t.IndexRemoveValue(ix.Name, typeOf[K](), typeOf[V](), key, val)
}

func (ix Index[K, V]) view(r Reader) (*txn.IndexView, error) {
	switch r := r.(type) {
	case nil:
		return nil, fmt.Errorf("persy: a nil Reader")
	case *Tx:
		if r == nil {
			return nil, fmt.Errorf("persy: a nil *Tx")
		}
	case *Snapshot:
		if r == nil {
			return nil, fmt.Errorf("persy: a nil *Snapshot")
		}
	}
	return r.indexView(ix.Name, typeOf[K](), typeOf[V]())
}

// Get returns the values of key k, in value order; none if k is not in
// the index.
func (ix Index[K, V]) Get(r Reader, k K) ([]V, error) {
	key, err := encodeKey(k)
	if err != nil {
		return nil, err
	}
	iv, err := ix.view(r)
	if err != nil {
		return nil, err
	}
	defer iv.Close()
	vals, err := iv.Values(key)
	if err != nil {
		return nil, err
	}
	out := make([]V, 0, len(vals))
	for _, b := range vals {
		v, err := decode[V](b)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// One returns the first value of key k, and false if k is not in the
// index.
func (ix Index[K, V]) One(r Reader, k K) (V, bool, error) {
	vs, err := ix.Get(r, k)
	if err != nil || len(vs) == 0 {
		var zero V
		return zero, false, err
	}
	return vs[0], true, nil
}

// Range returns the keys from lo to hi, in ascending order, each with its
// values. A Tx's range includes its own changes. An error ends the
// sequence as its last pair.
func (ix Index[K, V]) Range(r Reader, lo, hi Bound[K]) iter.Seq2[Entry[K, V], error] {
	return ix.rangeOf(r, lo, hi, false)
}

// RangeDesc returns the keys from lo to hi in descending order: hi first.
func (ix Index[K, V]) RangeDesc(r Reader, lo, hi Bound[K]) iter.Seq2[Entry[K, V], error] {
	return ix.rangeOf(r, lo, hi, true)
}

func (ix Index[K, V]) rangeOf(r Reader, lo, hi Bound[K], desc bool) iter.Seq2[Entry[K, V], error] {
	return func(yield func(Entry[K, V], error) bool) {
		rlo, err := lo.raw()
		if err != nil {
			yield(Entry[K, V]{}, err)
			return
		}
		rhi, err := hi.raw()
		if err != nil {
			yield(Entry[K, V]{}, err)
			return
		}
		iv, err := ix.view(r)
		if err != nil {
			yield(Entry[K, V]{}, err)
			return
		}
		defer iv.Close()
		decodeRange(iv, rlo, rhi, desc, decode[K], decode[V],
			func(k K, vs []V, err error) bool { return yield(Entry[K, V]{Key: k, Values: vs}, err) })
	}
}

// decodeRange yields the keys of iv from lo to hi (the reverse if desc)
// with their values, each decoded by dk and dv, until yield returns
// false; an error, of the range or of a decoding, is yielded last.
func decodeRange[K, V any](iv *txn.IndexView, lo, hi index.Bound, desc bool, dk func([]byte) (K, error), dv func([]byte) (V, error), yield func(K, []V, error) bool) {
	var derr error
	stopped := false
	err := iv.Range(lo, hi, desc, func(key []byte, vals [][]byte) bool {
		k, err := dk(key)
		if err != nil {
			derr = err
			return false
		}
		vs := make([]V, 0, len(vals))
		for _, b := range vals {
			v, err := dv(b)
			if err != nil {
				derr = err
				return false
			}
			vs = append(vs, v)
		}
		if !yield(k, vs, nil) {
			stopped = true
			return false
		}
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil && !stopped {
		var k K
		yield(k, nil, err)
	}
}
