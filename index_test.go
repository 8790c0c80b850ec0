package persy

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// smallNodes makes trees three levels deep with a few hundred keys.
var smallNodes = Options{ManualSync: true, IndexNodeBytes: 128}

func openIndexDB(t *testing.T, opts Options) *DB {
	t.Helper()
	db, err := OpenMemory(opts)
	mustT(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// rangeAll collects a range as key -> values strings.
// tb is what the helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(...any)
	Fatalf(string, ...any)
}

func rangeAll[K, V Key](t tb, seq func(func(Entry[K, V], error) bool)) []string {
	t.Helper()
	var out []string
	for e, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(e.Key, e.Values))
	}
	return out
}

func TestIndexModes(t *testing.T) {
	db := openIndexDB(t, smallNodes)
	rep := IndexOf[string, int32]("rep")
	exc := IndexOf[string, int32]("exc")
	clu := IndexOf[string, int32]("clu")
	mustT(t, db.Update(func(tx *Tx) error {
		return errors.Join(CreateIndex[string, int32](tx, "rep", Replace),
			CreateIndex[string, int32](tx, "exc", Exclusive),
			CreateIndex[string, int32](tx, "clu", Cluster))
	}))
	mustT(t, db.Update(func(tx *Tx) error {
		return errors.Join(rep.Put(tx, "k", 1), rep.Put(tx, "k", 2),
			exc.Put(tx, "k", 1), exc.Put(tx, "k", 1),
			clu.Put(tx, "k", 3), clu.Put(tx, "k", 1), clu.Put(tx, "k", 2), clu.Put(tx, "k", 1))
	}))
	snap, err := db.Snapshot()
	mustT(t, err)
	defer snap.Close()
	for _, c := range []struct {
		ix   Index[string, int32]
		want []int32
	}{{rep, []int32{2}}, {exc, []int32{1}}, {clu, []int32{1, 2, 3}}} {
		got, err := c.ix.Get(snap, "k")
		mustT(t, err)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.ix.Name, got, c.want)
		}
	}
	// A second, distinct value on an Exclusive key fails at prepare, and
	// names the index and the key.
	err = db.Update(func(tx *Tx) error { return exc.Put(tx, "k", 7) })
	if !errors.Is(err, ErrDuplicateKey) || !strings.Contains(err.Error(), `"exc"`) || !strings.Contains(err.Error(), `"k"`) {
		t.Fatalf("a second value on an Exclusive key: %v", err)
	}
	// Replacing it in one transaction is no duplicate.
	mustT(t, db.Update(func(tx *Tx) error { return errors.Join(exc.Remove(tx, "k"), exc.Put(tx, "k", 7)) }))
	if v, ok, err := exc.One(mustSnap(t, db), "k"); err != nil || !ok || v != 7 {
		t.Fatalf("after the replace: %v %v %v", v, ok, err)
	}
	if _, ok, err := exc.One(mustSnap(t, db), "absent"); err != nil || ok {
		t.Fatalf("an absent key: %v %v", ok, err)
	}
	mustT(t, db.Check())
}

func mustSnap(t *testing.T, db *DB) *Snapshot {
	t.Helper()
	s, err := db.Snapshot()
	mustT(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// model is a sorted-map model of an index: key -> sorted values.
type model map[int64][]int64

func (m model) apply(mode Mode, op txOp) {
	switch op.kind {
	case "put":
		switch mode {
		case Replace:
			m[op.k] = []int64{op.v}
		default:
			vs := m[op.k]
			if i, found := slices.BinarySearch(vs, op.v); !found {
				m[op.k] = slices.Insert(slices.Clone(vs), i, op.v)
			}
		}
	case "remove":
		delete(m, op.k)
	case "removeValue":
		vs := slices.Clone(m[op.k])
		if i, found := slices.BinarySearch(vs, op.v); found {
			vs = slices.Delete(vs, i, i+1)
		}
		if len(vs) == 0 {
			delete(m, op.k)
		} else {
			m[op.k] = vs
		}
	}
}

func (m model) clone() model {
	c := model{}
	for k, v := range m {
		c[k] = slices.Clone(v)
	}
	return c
}

// rangeOf is the model's answer to a range.
func (m model) rangeOf(lo, hi Bound[int64], desc bool) []string {
	var keys []int64
	for k := range m {
		if (lo.kind == 1 && k < lo.key) || (lo.kind == 2 && k <= lo.key) ||
			(hi.kind == 1 && k > hi.key) || (hi.kind == 2 && k >= hi.key) {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if desc {
		slices.Reverse(keys)
	}
	var out []string
	for _, k := range keys {
		out = append(out, fmt.Sprint(k, m[k]))
	}
	return out
}

type txOp struct {
	kind string
	k, v int64
}

func (o txOp) do(ix Index[int64, int64], tx *Tx) error {
	switch o.kind {
	case "put":
		return ix.Put(tx, o.k, o.v)
	case "remove":
		return ix.Remove(tx, o.k)
	default:
		return ix.RemoveValue(tx, o.k, o.v)
	}
}

// checkReads compares every read of ix in r with the model, both ways.
func checkReads(t tb, ix Index[int64, int64], r Reader, m model, keys []int64) {
	t.Helper()
	bounds := []Bound[int64]{Unbounded[int64]()}
	for _, k := range keys {
		bounds = append(bounds, Included(k), Excluded(k))
	}
	for _, lo := range bounds {
		for _, hi := range bounds {
			for _, desc := range []bool{false, true} {
				seq := ix.Range(r, lo, hi)
				if desc {
					seq = ix.RangeDesc(r, lo, hi)
				}
				got, want := rangeAll(t, seq), m.rangeOf(lo, hi, desc)
				if !slices.Equal(got, want) {
					t.Fatalf("range %v..%v desc=%v:\n got  %v\n want %v", lo, hi, desc, got, want)
				}
			}
		}
	}
	for _, k := range keys {
		got, err := ix.Get(r, k)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, m[k]) && !(len(got) == 0 && len(m[k]) == 0) {
			t.Fatalf("get %d: %v, want %v", k, got, m[k])
		}
	}
}

// TestIndexReadsMergeTheTransaction: reads inside a transaction see its
// own changes merged with the committed keys, in both directions.
func TestIndexReadsMergeTheTransaction(t *testing.T) {
	committed := []txOp{{"put", 10, 1}, {"put", 20, 1}, {"put", 20, 2}, {"put", 30, 1}, {"put", 40, 3}}
	cases := []struct {
		name string
		mode Mode
		ops  []txOp
	}{
		{"a new key between committed ones", Cluster, []txOp{{"put", 15, 1}}},
		{"new keys before and after every committed one", Cluster, []txOp{{"put", 5, 1}, {"put", 50, 1}, {"put", 25, 9}}},
		{"a committed key removed", Cluster, []txOp{{"remove", 20, 0}}},
		{"a committed key removed then put again", Cluster, []txOp{{"remove", 20, 0}, {"put", 20, 7}}},
		{"a committed key's values removed one by one", Cluster, []txOp{{"removeValue", 20, 1}, {"removeValue", 20, 2}}},
		{"one of a committed key's values removed", Cluster, []txOp{{"removeValue", 20, 2}}},
		{"a value added to a committed key", Cluster, []txOp{{"put", 30, 0}, {"put", 30, 5}}},
		{"a new key put then removed", Cluster, []txOp{{"put", 35, 1}, {"remove", 35, 0}}},
		{"an absent value removed", Cluster, []txOp{{"removeValue", 40, 9}, {"remove", 45, 0}}},
		{"every committed key removed", Cluster, []txOp{{"remove", 10, 0}, {"remove", 20, 0}, {"remove", 30, 0}, {"remove", 40, 0}}},
		{"replace a committed key", Replace, []txOp{{"put", 10, 5}, {"put", 40, 3}}},
		{"replace, remove, put back", Replace, []txOp{{"put", 30, 5}, {"remove", 30, 0}, {"put", 30, 6}, {"remove", 10, 0}}},
		{"the first and last keys replaced", Replace, []txOp{{"put", 10, 9}, {"put", 40, 9}, {"put", 1, 1}}},
	}
	keys := []int64{0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := openIndexDB(t, Options{ManualSync: true})
			ix := IndexOf[int64, int64]("i")
			m := model{}
			mustT(t, db.Update(func(tx *Tx) error {
				if err := CreateIndex[int64, int64](tx, "i", c.mode); err != nil {
					return err
				}
				for _, o := range committed {
					if c.mode == Replace && o.kind == "put" && o.k == 20 && o.v == 2 {
						continue
					}
					m.apply(c.mode, o)
					if err := o.do(ix, tx); err != nil {
						return err
					}
				}
				return nil
			}))
			before := m.clone()
			tx, err := db.Begin(TxOptions{})
			mustT(t, err)
			for _, o := range c.ops {
				mustT(t, o.do(ix, tx))
				m.apply(c.mode, o)
			}
			checkReads(t, ix, tx, m, keys)
			// Others see none of it before the commit.
			checkReads(t, ix, mustSnap(t, db), before, keys)
			mustT(t, tx.Commit())
			checkReads(t, ix, mustSnap(t, db), m, keys)
			mustT(t, db.Check())
		})
	}
}

// TestIndexTransactionAgainstModel: any sequence of committed and
// in-transaction changes, read by Get and ranges both ways between and
// after them, answers as a sorted map does; so do snapshots, after the
// commit and after a reopen. Small nodes make the trees several levels
// deep.
func TestIndexTransactionAgainstModel(t *testing.T) {
	deepest := 0
	dir, runs := t.TempDir(), 0
	rapid.Check(t, func(t *rapid.T) {
		mode := rapid.SampledFrom([]Mode{Replace, Exclusive, Cluster}).Draw(t, "mode")
		runs++
		path := filepath.Join(dir, fmt.Sprint(runs))
		db, err := OpenOrCreate(path, smallNodes, func(tx *Tx) error {
			return CreateIndex[int64, int64](tx, "i", mode)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { db.Close() }()
		ix := IndexOf[int64, int64]("i")
		m := model{}
		nkeys := rapid.IntRange(1, 300).Draw(t, "nkeys")
		drawOp := func() txOp {
			k := int64(rapid.IntRange(0, nkeys-1).Draw(t, "k"))
			v := int64(rapid.IntRange(0, 3).Draw(t, "v"))
			kind := rapid.SampledFrom([]string{"put", "put", "put", "remove", "removeValue"}).Draw(t, "op")
			if mode == Exclusive && kind == "put" {
				if vs := m[k]; len(vs) > 0 {
					v = vs[0] // a distinct value would fail the prepare
				}
			}
			return txOp{kind, k, v}
		}
		probe := func() []int64 {
			var ks []int64
			for range rapid.IntRange(1, 3).Draw(t, "probes") {
				ks = append(ks, int64(rapid.IntRange(-1, nkeys).Draw(t, "probe")))
			}
			return ks
		}
		for round := range rapid.IntRange(1, 6).Draw(t, "rounds") {
			tx, err := db.Begin(TxOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before := m.clone()
			n := rapid.IntRange(0, 200).Draw(t, fmt.Sprintf("ops%d", round))
			for i := range n {
				o := drawOp()
				if err := o.do(ix, tx); err != nil {
					t.Fatal(err)
				}
				m.apply(mode, o)
				if i%50 == 49 {
					checkReads(t, ix, tx, m, probe())
				}
			}
			checkReads(t, ix, tx, m, probe())
			if rapid.IntRange(0, 4).Draw(t, "rollback") == 0 {
				if err := tx.Rollback(); err != nil {
					t.Fatal(err)
				}
				m = before
			} else if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			s, err := db.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			checkReads(t, ix, s, m, probe())
			s.Close()
			if err := db.Check(); err != nil {
				t.Fatal(err)
			}
			deepest = max(deepest, depthOf(t, db, "i"))
			if rapid.IntRange(0, 3).Draw(t, "reopen") == 0 {
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
				if db, err = Open(path, smallNodes); err != nil {
					t.Fatal(err)
				}
				if err := db.Check(); err != nil {
					t.Fatal(err)
				}
			}
		}
		s, _ := db.Snapshot()
		defer s.Close()
		got := rangeAll(t, ix.Range(s, Unbounded[int64](), Unbounded[int64]()))
		if want := m.rangeOf(Unbounded[int64](), Unbounded[int64](), false); !slices.Equal(got, want) {
			t.Fatalf("the whole index:\n got  %v\n want %v", got, want)
		}
	})
	// How deep random draws go depends on the seed;
	// TestIndexWritersOnDifferentLeaves is the one that must reach three
	// levels.
	t.Logf("deepest tree: %d levels", deepest)
}

// depthOf is the depth of index name's tree in the latest commit.
func depthOf(t tb, db *DB, name string) int {
	tx, err := db.Begin(TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	infos, err := tx.Indexes()
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range infos {
		if info.Name == name {
			return info.Depth
		}
	}
	t.Fatalf("no index %q", name)
	return 0
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestIndexConcurrentCreate(t *testing.T) {
	db := openIndexDB(t, Options{ManualSync: true, LockTimeout: -1})
	a, _ := db.Begin(TxOptions{})
	b, _ := db.Begin(TxOptions{})
	mustT(t, CreateIndex[string, string](a, "x", Replace))
	mustT(t, CreateIndex[string, string](b, "x", Cluster))
	pa, err := a.Prepare()
	mustT(t, err)
	if _, err := b.Prepare(); !errors.Is(err, ErrIndexExists) {
		t.Fatalf("the second create's prepare: %v", err)
	}
	mustT(t, pa.Commit())
	c, _ := db.Begin(TxOptions{})
	mustT(t, CreateIndex[string, string](c, "y", Replace))
	d, _ := db.Begin(TxOptions{})
	mustT(t, CreateIndex[string, string](d, "y", Replace))
	mustT(t, c.Commit())
	if err := d.Commit(); !errors.Is(err, ErrIndexExists) {
		t.Fatalf("a create after the other committed: %v", err)
	}
	tx, _ := db.Begin(TxOptions{})
	infos, err := tx.Indexes()
	mustT(t, err)
	if fmt.Sprint(infos) != "[{x string string Replace 0} {y string string Replace 0}]" {
		t.Fatalf("indexes: %v", infos)
	}
	if err := CreateIndex[string, string](tx, "x", Replace); !errors.Is(err, ErrIndexExists) {
		t.Fatalf("a create of an existing index: %v", err)
	}
	segs, err := tx.Segments()
	mustT(t, err)
	if len(segs) != 0 {
		t.Fatalf("indexes listed as segments: %v", segs)
	}
	// A segment may share an index's name.
	mustT(t, tx.CreateSegment("x"))
	mustT(t, tx.Commit())
}

func TestIndexExclusiveRace(t *testing.T) {
	db := openIndexDB(t, Options{ManualSync: true, LockTimeout: -1})
	ix := IndexOf[uint32, string]("u")
	mustT(t, db.Update(func(tx *Tx) error { return CreateIndex[uint32, string](tx, "u", Exclusive) }))
	a, _ := db.Begin(TxOptions{})
	b, _ := db.Begin(TxOptions{})
	mustT(t, ix.Put(a, 1, "alice"))
	mustT(t, ix.Put(b, 1, "bob"))
	mustT(t, a.Commit())
	err := b.Commit()
	if !errors.Is(err, ErrDuplicateKey) || !strings.Contains(err.Error(), `key 1`) {
		t.Fatalf("the second distinct value: %v", err)
	}
	if v, _, _ := ix.One(mustSnap(t, db), 1); v != "alice" {
		t.Fatalf("the key holds %q", v)
	}
}

// TestIndexWritersOnDifferentLeaves: a prepared transaction holds only
// the nodes it changes. Another transaction changing a key in another
// leaf commits without waiting; one changing the same leaf waits; once
// the first commits, it edits the tree again and commits.
func TestIndexWritersOnDifferentLeaves(t *testing.T) {
	db := openIndexDB(t, Options{ManualSync: true, LockTimeout: -1, IndexNodeBytes: 128})
	ix := IndexOf[int64, int64]("i")
	mustT(t, db.Update(func(tx *Tx) error {
		if err := CreateIndex[int64, int64](tx, "i", Replace); err != nil {
			return err
		}
		for k := range int64(1000) {
			if err := ix.Put(tx, k*10, k); err != nil {
				return err
			}
		}
		return nil
	}))
	if d := depthOf(t, db, "i"); d < 3 {
		t.Fatalf("1,000 keys in 128-byte nodes made a tree of %d levels; the test needs three", d)
	}
	a, _ := db.Begin(TxOptions{})
	mustT(t, ix.Put(a, 5, 1))
	pa, err := a.Prepare()
	mustT(t, err)
	mustT(t, db.Update(func(tx *Tx) error { return ix.Put(tx, 9005, 1) }))
	err = db.Update(func(tx *Tx) error { return ix.Put(tx, 15, 1) })
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("a change of the prepared transaction's leaf: %v", err)
	}
	mustT(t, pa.Commit())
	mustT(t, db.Update(func(tx *Tx) error { return ix.Put(tx, 15, 1) }))
	for _, k := range []int64{5, 15, 9005} {
		if _, ok, err := ix.One(mustSnap(t, db), k); !ok || err != nil {
			t.Fatalf("key %d: %v %v", k, ok, err)
		}
	}
	mustT(t, db.Check())
}

// TestIndexConcurrentWriters: writers on one index, in parallel, each
// committing keys of its own, splitting and merging shared nodes: every
// commit lands and the tree stays valid.
func TestIndexConcurrentWriters(t *testing.T) {
	db := openIndexDB(t, Options{IndexNodeBytes: 128})
	ix := IndexOf[int64, int64]("i")
	mustT(t, db.Update(func(tx *Tx) error { return CreateIndex[int64, int64](tx, "i", Cluster) }))
	const writers, rounds, per = 4, 30, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range int64(writers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range int64(rounds) {
				err := db.Update(func(tx *Tx) error {
					for i := range int64(per) {
						k := (r*per+i)*writers + w
						if err := ix.Put(tx, k, w); err != nil {
							return err
						}
						if r > 0 && i%2 == 0 { // shrink as well as grow
							if err := ix.Remove(tx, ((r-1)*per+i)*writers+w); err != nil {
								return err
							}
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mustT(t, db.Check())
	got := rangeAll(t, ix.Range(mustSnap(t, db), Unbounded[int64](), Unbounded[int64]()))
	want := rounds*per*writers - (rounds-1)*(per/2)*writers
	if len(got) != want {
		t.Fatalf("%d keys, want %d", len(got), want)
	}
}

func TestIndexBadInput(t *testing.T) {
	db := openIndexDB(t, Options{ManualSync: true})
	s := IndexOf[string, []byte]("s")
	mustT(t, db.Update(func(tx *Tx) error { return CreateIndex[string, []byte](tx, "s", Replace) }))
	tx, _ := db.Begin(TxOptions{})
	mustT(t, s.Put(tx, strings.Repeat("k", MaxKeyBytes), make([]byte, MaxValueBytes)))
	if err := s.Put(tx, strings.Repeat("k", MaxKeyBytes+1), nil); !errors.Is(err, ErrKeyTooBig) {
		t.Errorf("a key of MaxKeyBytes+1: %v", err)
	}
	if err := s.Put(tx, "k", make([]byte, MaxValueBytes+1)); !errors.Is(err, ErrValueTooBig) {
		t.Errorf("a value of MaxValueBytes+1: %v", err)
	}
	if _, err := s.Get(tx, strings.Repeat("k", MaxKeyBytes+1)); !errors.Is(err, ErrKeyTooBig) {
		t.Errorf("a get of a key of MaxKeyBytes+1: %v", err)
	}
	// The sentinels serve segment and index names alike: an index's
	// error must not speak of a segment.
	if err := CreateIndex[int8, int8](tx, strings.Repeat("n", MaxIndexNameBytes+1), Replace); !errors.Is(err, ErrNameTooLong) || strings.Contains(err.Error(), "segment") {
		t.Errorf("a name of MaxIndexNameBytes+1: %v", err)
	}
	mustT(t, CreateIndex[int8, int8](tx, strings.Repeat("n", MaxIndexNameBytes), Replace))
	if err := CreateIndex[int8, int8](tx, "", Replace); !errors.Is(err, ErrEmptyName) || strings.Contains(err.Error(), "segment") {
		t.Errorf("an empty name: %v", err)
	}
	if err := CreateIndex[int8, int8](tx, "m", Mode(9)); err == nil {
		t.Errorf("a mode of 9 was accepted")
	}
	if err := IndexOf[string, string]("s").Put(tx, "k", "v"); !errors.Is(err, ErrIndexTypeMismatch) {
		t.Errorf("a handle of other types: %v", err)
	}
	if _, err := IndexOf[int64, []byte]("s").Get(tx, 1); !errors.Is(err, ErrIndexTypeMismatch) {
		t.Errorf("a read through a handle of other types: %v", err)
	}
	if err := IndexOf[string, string]("nope").Put(tx, "k", "v"); !errors.Is(err, ErrIndexNotFound) {
		t.Errorf("an unknown index: %v", err)
	}
	if err := tx.DropIndex("nope"); !errors.Is(err, ErrIndexNotFound) {
		t.Errorf("a drop of an unknown index: %v", err)
	}
	if err := tx.CreateSegment("+_Is"); !errors.Is(err, ErrReservedName) {
		t.Errorf("a segment of a reserved name: %v", err)
	}
	if _, err := tx.Insert("+_Is", nil); !errors.Is(err, ErrSegmentNotFound) {
		t.Errorf("an insert into an index's segment: %v", err)
	}
	mustT(t, tx.Commit())
	if err := s.Put(tx, "k", nil); !errors.Is(err, ErrTxDone) {
		t.Errorf("a put after commit: %v", err)
	}
	if _, err := s.Get(tx, "k"); !errors.Is(err, ErrTxDone) {
		t.Errorf("a get after commit: %v", err)
	}
	for _, err := range s.Range(tx, Unbounded[string](), Unbounded[string]()) {
		if !errors.Is(err, ErrTxDone) {
			t.Errorf("a range after commit: %v", err)
		}
	}
	snap, _ := db.Snapshot()
	snap.Close()
	if _, err := s.Get(snap, "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("a get on a closed snapshot: %v", err)
	}
	if _, err := s.Get(nil, "k"); err == nil {
		t.Errorf("a get on a nil reader")
	}
	if _, err := s.Get(&Tx{}, "k"); err == nil {
		t.Errorf("a get on a Tx no Begin made")
	}
	if _, err := s.Get(&Snapshot{}, "k"); err == nil {
		t.Errorf("a get on a Snapshot no DB made")
	}
	if err := s.Put(&Tx{}, "k", nil); err == nil {
		t.Errorf("a put on a Tx no Begin made")
	}
}

// TestIndexBadNodeSizeCreatesNothing: a CreateIndex refused for its
// Options.IndexNodeBytes leaves nothing behind in the transaction, so a
// transaction that goes on and commits leaves no index without a
// definition.
func TestIndexBadNodeSizeCreatesNothing(t *testing.T) {
	db := openIndexDB(t, Options{ManualSync: true, IndexNodeBytes: 50})
	err := db.Update(func(tx *Tx) error {
		if err := CreateIndex[int8, int8](tx, "i", Replace); err == nil {
			t.Error("a node size of 50 bytes was accepted")
		}
		if ok, err := tx.IndexExists("i"); err != nil || ok {
			t.Errorf("after the refused create, IndexExists = %v, %v", ok, err)
		}
		return nil
	})
	mustT(t, err)
	mustT(t, db.View(func(s *Snapshot) error {
		infos, err := s.Indexes()
		if err != nil || len(infos) != 0 {
			t.Errorf("after the commit, Indexes = %v, %v; want none", infos, err)
		}
		return nil
	}))
	mustT(t, db.Check())
}
