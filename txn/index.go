package txn

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/gopersy/persy/index"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/segment"
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

const indexPrefix = "+_I"

// MaxIndexNameBytes bounds an index name (ErrNameTooLong).
const MaxIndexNameBytes = MaxNameBytes - len(indexPrefix)

func reserved(name string) bool { return strings.HasPrefix(name, "+_") }

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

// IndexInfo describes an index.
type IndexInfo struct {
	Name       string
	Key, Value IndexType
	Mode       Mode
	// Depth is the number of levels of the committed tree: 0 when it is
	// empty, 1 for a lone leaf.
	Depth int
}

// treeDepth counts the levels of the tree at root, down its first
// children.
func treeDepth(src index.Source, root uint64) (int, error) {
	depth := 0
	for root != 0 {
		depth++
		n, err := src.Node(root)
		if err != nil {
			return 0, err
		}
		if n.Leaf {
			break
		}
		root = n.Children[0]
	}
	return depth, nil
}

func checkIndexName(name string) error {
	if len(name) > MaxIndexNameBytes {
		return fmt.Errorf("%w: an index name of %d bytes", ErrNameTooLong, len(name))
	}
	if name == "" {
		return fmt.Errorf("%w: an empty index name", ErrEmptyName)
	}
	return nil
}

// CreateIndex creates an index named name with keys of type kt, values
// of type vt and mode m. Two transactions creating one name: the second
// to prepare fails with ErrIndexExists.
func (tx *Tx) CreateIndex(name string, kt, vt index.Type, m Mode) error {
	if !kt.Valid() || !vt.Valid() {
		return fmt.Errorf("persy: index types %v -> %v", kt, vt)
	}
	if err := tx.check(); err != nil {
		return err
	}
	if err := checkIndexName(name); err != nil {
		return err
	}
	if m < Replace || m > Cluster {
		return fmt.Errorf("persy: index mode %v", m)
	}
	if _, _, err := tx.anySegID(indexPrefix + name); err == nil {
		return fmt.Errorf("%w: %q", ErrIndexExists, name)
	}
	// Checked before the index's segment is created: a create refused
	// leaves nothing in the transaction.
	nodeBytes := tx.db.opts.IndexNodeBytes
	if nodeBytes == 0 {
		nodeBytes = index.DefaultNodeBytes
	}
	if nodeBytes < index.MinNodeBytes || nodeBytes > index.MaxNodeBytes {
		return fmt.Errorf("persy: Options.IndexNodeBytes %d is outside %d..%d", nodeBytes, index.MinNodeBytes, index.MaxNodeBytes)
	}
	id := tx.createSegment(indexPrefix + name)
	d := index.Def{Key: kt, Value: vt, Mode: m, NodeBytes: nodeBytes}
	slot, err := tx.reserveSlot(id, false)
	if err != nil {
		return err
	}
	tx.writes[recKey{id, slot}] = &txWrite{kind: journal.KindInsert, data: d.Encode()}
	return nil
}

// DropIndex drops the index named name and every key in it.
func (tx *Tx) DropIndex(name string) error {
	if err := tx.check(); err != nil {
		return err
	}
	id, existing, err := tx.anySegID(indexPrefix + name)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrIndexNotFound, name)
	}
	tx.dropSegment(indexPrefix+name, id, existing)
	delete(tx.idx, name)
	return nil
}

// IndexExists reports whether the index named name exists.
func (tx *Tx) IndexExists(name string) (bool, error) {
	if err := tx.check(); err != nil {
		return false, err
	}
	_, _, err := tx.anySegID(indexPrefix + name)
	return err == nil, nil
}

// Indexes describes the indexes, sorted by name.
func (tx *Tx) Indexes() ([]IndexInfo, error) {
	if err := tx.check(); err != nil {
		return nil, err
	}
	tx.db.mu.Lock()
	var names []string
	for _, s := range tx.db.cur.segs {
		if strings.HasPrefix(s.name, indexPrefix) {
			names = append(names, s.name[len(indexPrefix):])
		}
	}
	tx.db.mu.Unlock()
	for n := range tx.creates {
		if strings.HasPrefix(n, indexPrefix) {
			names = append(names, n[len(indexPrefix):])
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var out []IndexInfo
	for _, n := range names {
		_, _, d, err := tx.indexDef(n)
		if errors.Is(err, ErrIndexNotFound) {
			continue // dropped by the transaction
		}
		if err != nil {
			return nil, err
		}
		info := IndexInfo{Name: n, Key: d.Key, Value: d.Value, Mode: d.Mode}
		if info.Depth, err = tx.committedDepth(n); err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// committedDepth is the depth of index name in the latest commit, 0 if
// it has none.
func (tx *Tx) committedDepth(name string) (int, error) {
	v, err := tx.db.pin()
	if err != nil {
		return 0, err
	}
	defer tx.db.unpin(v)
	if v.seg(indexPrefix+name) == nil {
		return 0, nil
	}
	src, root, err := versionTree(tx.db, v, name)
	if err != nil {
		return 0, err
	}
	return treeDepth(src, root)
}

// indexDef resolves index name in the transaction's view: its segment,
// whether it existed before the transaction, and its definition (with
// the committed root).
func (tx *Tx) indexDef(name string) (uint64, bool, index.Def, error) {
	id, existing, err := tx.anySegID(indexPrefix + name)
	if err != nil {
		return 0, false, index.Def{}, fmt.Errorf("%w: %q", ErrIndexNotFound, name)
	}
	var data []byte
	if w := tx.writes[recKey{id, 0}]; w != nil && !existing {
		data = w.data
	} else {
		_, data, _, err = tx.lookupIn(id, existing, 0)
		if err != nil {
			return 0, false, index.Def{}, corruptIndex(name, "its definition: %v", err)
		}
	}
	d, err := index.DecodeDef(data)
	if err != nil {
		return 0, false, index.Def{}, corruptIndex(name, "%v", err)
	}
	if !existing {
		d.Root = 0
	}
	return id, existing, d, nil
}

// typedDef is indexDef for a caller whose types are kt and vt, of a
// transaction still open.
func (tx *Tx) typedDef(name string, kt, vt index.Type) (uint64, bool, index.Def, error) {
	if err := tx.check(); err != nil {
		return 0, false, index.Def{}, err
	}
	id, existing, d, err := tx.indexDef(name)
	if err == nil {
		err = mismatch(name, d, kt, vt)
	}
	return id, existing, d, err
}

func corruptIndex(name, format string, a ...any) error {
	return &CorruptError{Page: -1, Reason: fmt.Sprintf("index %q: ", name) + fmt.Sprintf(format, a...)}
}

func mismatch(name string, d index.Def, kt, vt index.Type) error {
	if d.Key != kt || d.Value != vt {
		return fmt.Errorf("%w: index %q holds %v -> %v, not %v -> %v", ErrIndexTypeMismatch, name, d.Key, d.Value, kt, vt)
	}
	return nil
}

// txIndex is a transaction's changes of one index.
type txIndex struct {
	seg      uint64
	existing bool
	def      index.Def
	pend     *index.Pending
	// seen holds the committed values of the keys the transaction read
	// or changed, as it first saw them, for its strategy.
	seen map[string][][]byte
	// spare holds node slots reserved by an earlier prepare attempt.
	spare []uint64
}

// changes returns the transaction's record of its changes of index name.
func (tx *Tx) changes(name string, kt, vt index.Type) (*txIndex, error) {
	id, existing, d, err := tx.typedDef(name, kt, vt)
	if err != nil {
		return nil, err
	}
	ti := tx.idx[name]
	if ti == nil || ti.seg != id {
		ti = &txIndex{seg: id, existing: existing, def: d, pend: index.NewPending(d.Mode), seen: map[string][][]byte{}}
		tx.idx[name] = ti
	}
	return ti, nil
}

// see records the committed values of key, the first time the
// transaction meets it, for a strategy that checks them.
func (tx *Tx) see(name string, ti *txIndex, key []byte) error {
	if tx.strategy == LastWin {
		return nil
	}
	if _, ok := ti.seen[string(key)]; ok {
		return nil
	}
	vals, err := tx.committedValues(name, ti, key)
	if err != nil {
		return err
	}
	ti.seen[string(key)] = vals
	return nil
}

func (tx *Tx) committedValues(name string, ti *txIndex, key []byte) ([][]byte, error) {
	if !ti.existing {
		return nil, nil
	}
	v, err := tx.db.pin()
	if err != nil {
		return nil, err
	}
	defer tx.db.unpin(v)
	src, root, err := versionTree(tx.db, v, name)
	if err != nil {
		return nil, err
	}
	return index.Values(src, root, key)
}

// nodeSource reads the nodes of one index from a version.
type nodeSource struct {
	db   *DB
	seg  *segState
	name string
	def  index.Def
}

func (s nodeSource) Node(slot uint64) (*index.Node, error) {
	var sl segment.Slot
	ok := false
	if s.seg != nil && slot != 0 {
		var err error
		if sl, ok, err = s.db.slot(s.seg, slot); err != nil {
			return nil, err
		}
	}
	if !ok || !sl.Live {
		return nil, corruptIndex(s.name, "node %d does not exist", slot)
	}
	key := nodeKey{s.seg.id, slot, sl.Version}
	if n := s.db.nodes.get(key); n != nil {
		return n, nil
	}
	n, err := s.decode(&sl, slot)
	if err == nil {
		s.db.nodes.put(key, n)
	}
	return n, err
}

func (s nodeSource) decode(sl *segment.Slot, slot uint64) (*index.Node, error) {
	data, err := s.db.readSlot(s.seg.id, slot, sl)
	if err != nil {
		return nil, err
	}
	n, err := index.Decode(data)
	if err != nil {
		return nil, s.corrupt(sl, slot, err)
	}
	if n.Leaf {
		for _, p := range n.Pairs {
			if err := index.CheckEncoded(s.def.Key, p.Key); err != nil {
				return nil, s.corrupt(sl, slot, fmt.Errorf("key: %v", err))
			}
			if err := index.CheckEncoded(s.def.Value, p.Value); err != nil {
				return nil, s.corrupt(sl, slot, fmt.Errorf("value: %v", err))
			}
		}
	}
	return n, nil
}

func (s nodeSource) corrupt(sl *segment.Slot, slot uint64, err error) error {
	addr := int64(-1)
	if sl.Pending == nil {
		addr = sl.Data.Addr
	}
	return &CorruptError{Page: addr, Reason: fmt.Sprintf("index %q, node %d: %v", s.name, slot, err)}
}

// nodeKey names a node's content: a slot's version changes with every
// write of it, and segment ids are never reused, so the content a key
// names never changes, for every version and snapshot that reads it.
type nodeKey struct {
	seg, slot uint64
	version   uint32
}

// nodeCacheEntries bounds the decoded nodes kept: 16 MiB of 4 KiB nodes.
const nodeCacheEntries = 4096

// nodeCache keeps decoded index nodes, which are shared and never
// changed, so that a read does not copy, check and decode a node's record
// each time. It evicts in insertion order: what it holds depends only on
// the reads made, never on map order.
type nodeCache struct {
	mu    sync.Mutex
	m     map[nodeKey]*index.Node
	ring  []nodeKey // grows by append up to limit: most databases never fill it
	limit int
	next  int
}

func newNodeCache(limit int) *nodeCache {
	return &nodeCache{m: map[nodeKey]*index.Node{}, limit: limit}
}

func (c *nodeCache) get(k nodeKey) *index.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[k]
}

func (c *nodeCache) put(k nodeKey, n *index.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	if len(c.ring) < c.limit {
		c.ring = append(c.ring, k)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % len(c.ring)
	}
	c.m[k] = n
}

// versionTree returns the nodes and root of index name in v.
func versionTree(db *DB, v *version, name string) (nodeSource, uint64, error) {
	seg := v.seg(indexPrefix + name)
	if seg == nil {
		return nodeSource{}, 0, fmt.Errorf("%w: %q", ErrIndexNotFound, name)
	}
	sl, ok, err := db.slot(seg, 0)
	if err != nil {
		return nodeSource{}, 0, err
	}
	var data []byte
	if !ok {
		err = ErrRecordNotFound
	} else {
		data, err = db.readSlot(seg.id, 0, &sl)
	}
	if err != nil {
		return nodeSource{}, 0, corruptIndex(name, "its definition: %v", err)
	}
	cd, err := index.DecodeDef(data)
	if err != nil {
		return nodeSource{}, 0, corruptIndex(name, "%v", err)
	}
	return nodeSource{db: db, seg: seg, name: name, def: cd}, cd.Root, nil
}

// IndexView is what a read of one index reads: the committed tree of a
// version, and a transaction's pending changes. Close it when done.
type IndexView struct {
	src  index.Source
	root uint64
	pend *index.Pending
	// seen, if not nil, is told the committed values of each key read.
	seen func(key []byte, vals [][]byte)
	done func()
}

// IndexView opens a read of index name, whose types must be kt and vt,
// as the transaction sees it.
func (tx *Tx) IndexView(name string, kt, vt index.Type) (*IndexView, error) {
	id, existing, _, err := tx.typedDef(name, kt, vt)
	if err != nil {
		return nil, err
	}
	iv := &IndexView{src: emptySource{}, done: func() {}}
	if ti := tx.idx[name]; ti != nil && ti.seg == id {
		iv.pend = ti.pend
		if tx.strategy == VersionOnRead {
			iv.seen = func(key []byte, vals [][]byte) {
				if _, ok := ti.seen[string(key)]; !ok && !ti.pend.Has(key) {
					ti.seen[string(key)] = vals
				}
			}
		}
	} else if tx.strategy == VersionOnRead && existing {
		iv.seen = func(key []byte, vals [][]byte) {
			ti, err := tx.changes(name, kt, vt)
			if err == nil {
				if _, ok := ti.seen[string(key)]; !ok {
					ti.seen[string(key)] = vals
				}
			}
		}
	}
	if !existing {
		return iv, nil
	}
	v, err := tx.db.pin()
	if err != nil {
		return nil, err
	}
	src, root, err := versionTree(tx.db, v, name)
	if err != nil {
		tx.db.unpin(v)
		return nil, err
	}
	iv.src, iv.root, iv.done = src, root, func() { tx.db.unpin(v) }
	return iv, nil
}

// IndexView opens a read of index name, whose types must be kt and vt,
// as the snapshot sees it.
func (s *Snapshot) IndexView(name string, kt, vt index.Type) (*IndexView, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.v.seg(indexPrefix+name) == nil {
		return nil, fmt.Errorf("%w: %q", ErrIndexNotFound, name)
	}
	src, root, err := versionTree(s.db, s.v, name)
	if err != nil {
		return nil, err
	}
	d := src.def
	if err := mismatch(name, d, kt, vt); err != nil {
		return nil, err
	}
	// The snapshot's cleanup must not unpin the version mid-read.
	return &IndexView{src: src, root: root, done: func() { runtime.KeepAlive(s) }}, nil
}

// Indexes describes the indexes, sorted by name.
func (s *Snapshot) Indexes() ([]IndexInfo, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	var out []IndexInfo
	for _, seg := range s.v.segs {
		if !strings.HasPrefix(seg.name, indexPrefix) {
			continue
		}
		name := seg.name[len(indexPrefix):]
		src, root, err := versionTree(s.db, s.v, name)
		if err != nil {
			return nil, err
		}
		d := src.def
		depth, err := treeDepth(src, root)
		if err != nil {
			return nil, err
		}
		out = append(out, IndexInfo{Name: name, Key: d.Key, Value: d.Value, Mode: d.Mode, Depth: depth})
	}
	return out, nil
}

// IndexInfo describes the index named name, whatever its types: with
// them, IndexView reads it. It is for tools that decode an index by the
// types it was created with.
func (s *Snapshot) IndexInfo(name string) (IndexInfo, error) {
	if err := s.check(); err != nil {
		return IndexInfo{}, err
	}
	if s.v.seg(indexPrefix+name) == nil {
		return IndexInfo{}, fmt.Errorf("%w: %q", ErrIndexNotFound, name)
	}
	src, root, err := versionTree(s.db, s.v, name)
	if err != nil {
		return IndexInfo{}, err
	}
	depth, err := treeDepth(src, root)
	runtime.KeepAlive(s) // its cleanup must not unpin the version mid-read
	if err != nil {
		return IndexInfo{}, err
	}
	d := src.def
	return IndexInfo{Name: name, Key: d.Key, Value: d.Value, Mode: d.Mode, Depth: depth}, nil
}

// IndexExists reports whether the index named name exists.
func (s *Snapshot) IndexExists(name string) (bool, error) {
	if err := s.check(); err != nil {
		return false, err
	}
	return s.v.seg(indexPrefix+name) != nil, nil
}

type emptySource struct{}

func (emptySource) Node(slot uint64) (*index.Node, error) {
	return nil, fmt.Errorf("%w: node %d of an empty tree", index.ErrCorrupt, slot)
}

// IndexPut puts value val on key key of index name, whose types must be
// kt and vt; key and val are encoded and within their limits.
func (tx *Tx) IndexPut(name string, kt, vt index.Type, key, val []byte) error {
	ti, err := tx.keyChange(name, kt, vt, key)
	if err != nil {
		return err
	}
	ti.pend.Put(key, val)
	return nil
}

// IndexRemove removes key and every value it holds from index name.
func (tx *Tx) IndexRemove(name string, kt, vt index.Type, key []byte) error {
	ti, err := tx.keyChange(name, kt, vt, key)
	if err != nil {
		return err
	}
	ti.pend.Remove(key)
	return nil
}

// IndexRemoveValue removes value val of key from index name.
func (tx *Tx) IndexRemoveValue(name string, kt, vt index.Type, key, val []byte) error {
	ti, err := tx.keyChange(name, kt, vt, key)
	if err != nil {
		return err
	}
	ti.pend.RemoveValue(key, val)
	return nil
}

func (tx *Tx) keyChange(name string, kt, vt index.Type, key []byte) (*txIndex, error) {
	ti, err := tx.changes(name, kt, vt)
	if err != nil {
		return nil, err
	}
	return ti, tx.see(name, ti, key)
}

// Close ends the read.
func (iv *IndexView) Close() { iv.done() }

// Values returns the values of key, in order, as the view sees them.
// They are borrowed: committed values are shared with the database's
// cache of decoded nodes, and the caller must not change them.
func (iv *IndexView) Values(key []byte) ([][]byte, error) {
	vals, err := index.Values(iv.src, iv.root, key)
	if err != nil {
		return nil, err
	}
	if iv.seen != nil {
		iv.seen(key, vals)
	}
	if iv.pend != nil {
		if c := iv.pend.Change(key); c != nil {
			vals = c.Apply(vals)
		}
	}
	return vals, nil
}

// Range yields the keys from lo to hi that hold values, in order (the
// reverse if desc), each with its values in order, until yield returns
// false. The keys and values are borrowed, as Values' are: yield must not
// change them.
func (iv *IndexView) Range(lo, hi index.Bound, desc bool, yield func(key []byte, vals [][]byte) bool) error {
	return index.Merge(iv.pend, lo, hi, desc, func(y func(index.Pair) bool) error {
		return index.Walk(iv.src, iv.root, lo, hi, desc, y)
	}, yield)
}

// formatKey is key of type t for messages.
func formatKey(t index.Type, key []byte) string {
	if index.CheckEncoded(t, key) != nil {
		return "0x" + hex.EncodeToString(key)
	}
	switch t {
	case index.U8, index.U16, index.U32, index.U64:
		return fmt.Sprint(index.DecodeUint(key))
	case index.I8, index.I16, index.I32, index.I64:
		return fmt.Sprint(index.DecodeInt(key))
	case index.F32:
		return fmt.Sprint(index.DecodeFloat32(key))
	case index.F64:
		return fmt.Sprint(index.DecodeFloat64(key))
	case index.String:
		return fmt.Sprintf("%q", key)
	case index.RecordID:
		return RecordID{Page: index.DecodeUint(key[:8]), Pos: uint32(index.DecodeUint(key[8:]))}.String()
	}
	return "0x" + hex.EncodeToString(key)
}

// planIndexes turns the transaction's index changes into node writes,
// editing each tree as the latest commit has it. The writes go to
// tx.nodes, each with the version it read, to be locked and checked; the
// version of every committed node the edit read, written or not, goes to
// tx.nodeReads, to be checked. A node read, not written, that changed
// before the prepare took its key locks may have held a pair of a key
// the prepare changes (another transaction's put that landed in another
// leaf, or a remove that found nothing to remove): so the edit is redone.
func (tx *Tx) planIndexes() error {
	tx.nodes = map[recKey]*txWrite{}
	tx.nodeReads = map[recKey]uint32{}
	if len(tx.idx) == 0 {
		return nil
	}
	v, err := tx.db.pin()
	if err != nil {
		return err
	}
	defer tx.db.unpin(v)
	for _, name := range sortedKeys(tx.idx) {
		ti := tx.idx[name]
		if ti.pend.Len() == 0 {
			continue
		}
		var src index.Source = emptySource{}
		root := uint64(0)
		var seg *segState
		if ti.existing {
			s, r, err := versionTree(tx.db, v, name)
			if err != nil {
				return err
			}
			src, root = readRecorder{s, tx.nodeReads}, r
			seg = s.seg
			// The root came from the definition: a root made or
			// collapsed since is a change of what the edit read.
			sl, _, err := tx.db.slot(seg, 0)
			if err != nil {
				return err
			}
			tx.nodeReads[recKey{ti.seg, 0}] = sl.Version
		}
		spare := ti.spare
		alloc := func() (uint64, error) {
			if n := len(spare); n > 0 {
				s := spare[n-1]
				spare = spare[:n-1]
				return s, nil
			}
			s, err := tx.reserveSlot(ti.seg, ti.existing)
			if err == nil {
				ti.spare = append(ti.spare, s)
			}
			return s, err
		}
		e := index.NewEdit(src, root, ti.def.NodeBytes, alloc)
		for _, k := range ti.pend.Keys() {
			key := []byte(k)
			base, err := index.Values(e, e.Root(), key)
			if err != nil {
				return err
			}
			final := ti.pend.Change(key).Apply(base)
			if ti.def.Mode == Exclusive && len(final) > 1 {
				return fmt.Errorf("%w: index %q, key %s", ErrDuplicateKey, name, formatKey(ti.def.Key, key))
			}
			for _, b := range base {
				if _, keep := slices.BinarySearchFunc(final, b, bytes.Compare); !keep {
					if err := e.Remove(index.Pair{Key: key, Value: b}); err != nil {
						return err
					}
				}
			}
			for _, f := range final {
				if _, had := slices.BinarySearchFunc(base, f, bytes.Compare); !had {
					if err := e.Insert(index.Pair{Key: key, Value: f}); err != nil {
						return err
					}
				}
			}
		}
		writes, _ := e.Changes()
		for _, w := range writes {
			k := recKey{ti.seg, w.Slot}
			tw := &txWrite{checked: true, data: w.Data}
			switch {
			case w.Created:
				tw.kind = journal.KindInsert
			case w.Data == nil:
				tw.kind = journal.KindDelete
			default:
				tw.kind = journal.KindUpdate
			}
			if tw.kind != journal.KindInsert {
				var sl segment.Slot
				ok := false
				if seg != nil {
					var err error
					if sl, ok, err = tx.db.slot(seg, w.Slot); err != nil {
						return err
					}
				}
				if !ok {
					return corruptIndex(name, "node %d does not exist", w.Slot)
				}
				tw.base = sl.Version
			}
			tx.nodes[k] = tw
		}
		if e.Root() != root || !ti.existing {
			d := ti.def
			d.Root = e.Root()
			meta := recKey{ti.seg, 0}
			if w := tx.writes[meta]; w != nil && !ti.existing {
				w.data = d.Encode()
			} else {
				tw := &txWrite{kind: journal.KindUpdate, checked: true, data: d.Encode()}
				sl, ok, err := tx.db.slot(seg, 0)
				if err != nil {
					return err
				}
				if ok {
					tw.base = sl.Version
				}
				tx.nodes[meta] = tw
			}
		}
	}
	return nil
}

// readRecorder is a nodeSource that records the version of every node
// read.
type readRecorder struct {
	nodeSource
	reads map[recKey]uint32
}

func (r readRecorder) Node(slot uint64) (*index.Node, error) {
	n, err := r.nodeSource.Node(slot)
	if err != nil {
		return nil, err
	}
	sl, _, err := r.db.slot(r.seg, slot)
	if err != nil {
		return nil, err
	}
	r.reads[recKey{r.seg.id, slot}] = sl.Version
	return n, nil
}

// keyLock is the lock of one key of index segment seg.
func keyLock(seg uint64, key string) string {
	b := make([]byte, 1, 9+len(key))
	b[0] = 'k'
	b = binary.BigEndian.AppendUint64(b, seg)
	return string(append(b, key...))
}

// validateIndexes checks, under the transaction's locks, that the nodes
// its prepare edits are those of the latest commit (errRetry if not) and
// that the keys its strategy checks hold the values it saw. Callers hold
// db.mu.
func (tx *Tx) validateIndexes(v *version) error {
	for k, w := range tx.nodes {
		if _, created := tx.newNext[k.seg]; created {
			continue // every node of an index the transaction creates is new
		}
		_, s := v.segByID(k.seg)
		if s == nil {
			return errRetry
		}
		sl, ok, err := tx.db.slot(s, k.slot)
		if err != nil {
			return err
		}
		if w.kind == journal.KindInsert {
			if ok && sl.Live {
				return fmt.Errorf("persy: slot %v of index segment %d handed out while in use", idOfSlot(k.slot), k.seg)
			}
			continue
		}
		if !ok || !sl.Live || sl.Version != w.base {
			return errRetry
		}
	}
	for k, ver := range tx.nodeReads {
		_, s := v.segByID(k.seg)
		if s == nil {
			return errRetry
		}
		sl, ok, err := tx.db.slot(s, k.slot)
		if err != nil {
			return err
		}
		if !ok || !sl.Live || sl.Version != ver {
			return errRetry
		}
	}
	if tx.strategy == LastWin {
		return nil
	}
	for _, name := range sortedKeys(tx.idx) {
		ti := tx.idx[name]
		if !ti.existing {
			continue
		}
		var src index.Source
		var root uint64
		for _, key := range sortedKeys(ti.seen) {
			if tx.strategy == VersionOnWrite && !ti.pend.Has([]byte(key)) {
				continue
			}
			if src == nil {
				s, r, err := versionTree(tx.db, v, name)
				if err != nil {
					return fmt.Errorf("%w: index %q", ErrVersionNotLatest, name)
				}
				src, root = s, r
			}
			now, err := index.Values(src, root, []byte(key))
			if err != nil {
				return err
			}
			if !slices.EqualFunc(now, ti.seen[key], bytes.Equal) {
				return fmt.Errorf("%w: index %q, key %s", ErrVersionNotLatest, name, formatKey(ti.def.Key, []byte(key)))
			}
		}
	}
	return nil
}
