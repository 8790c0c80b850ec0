package index

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// memStore is a Source over node records held in memory, with edits
// applied the way a commit applies their writes.
type memStore struct {
	recs map[uint64][]byte
	next uint64
}

func newMemStore() *memStore { return &memStore{recs: map[uint64][]byte{}, next: 1} }

func (m *memStore) Node(slot uint64) (*Node, error) {
	b, ok := m.recs[slot]
	if !ok {
		return nil, fmt.Errorf("no record %d", slot)
	}
	return Decode(b)
}

func (m *memStore) alloc() (uint64, error) {
	s := m.next
	m.next++
	return s, nil
}

func (m *memStore) apply(t interface{ Fatalf(string, ...any) }, e *Edit) {
	writes, _ := e.Changes()
	for _, w := range writes {
		_, exists := m.recs[w.Slot]
		switch {
		case w.Data == nil:
			if !exists {
				t.Fatalf("delete of node %d, which does not exist", w.Slot)
			}
			delete(m.recs, w.Slot)
		case w.Created:
			if exists {
				t.Fatalf("node %d created over a live one", w.Slot)
			}
			m.recs[w.Slot] = w.Data
		default:
			if !exists {
				t.Fatalf("update of node %d, which does not exist", w.Slot)
			}
			m.recs[w.Slot] = w.Data
		}
	}
}

func u16(n int) []byte { return AppendUint(nil, uint64(n), 2) }

// TestTreeAgainstModel edits a tree with small nodes through batches of
// inserts and removes, applying each batch as a commit would, and checks
// after each that the tree is valid, holds exactly the model's pairs, and
// answers ranges in both directions as the model does.
func TestTreeAgainstModel(t *testing.T) {
	maxDepth := 0
	rapid.Check(t, func(t *rapid.T) {
		st := newMemStore()
		mode := rapid.SampledFrom([]Mode{Replace, Cluster}).Draw(t, "mode")
		d := Def{Key: U16, Value: U16, Mode: mode, NodeBytes: MinNodeBytes}
		model := map[string][]byte{} // key+value -> nothing; pairs as strings
		keys := rapid.IntRange(1, 400).Draw(t, "keys")
		for batch := range rapid.IntRange(1, 12).Draw(t, "batches") {
			e := NewEdit(st, d.Root, d.NodeBytes, st.alloc)
			n := rapid.IntRange(0, 300).Draw(t, fmt.Sprintf("ops%d", batch))
			grow := rapid.Bool().Draw(t, fmt.Sprintf("grow%d", batch))
			for range n {
				k := rapid.IntRange(0, keys-1).Draw(t, "k")
				v := 0
				if mode == Cluster {
					v = rapid.IntRange(0, 3).Draw(t, "v")
				}
				p := Pair{u16(k), u16(v)}
				id := string(p.Key) + string(p.Value)
				if grow || rapid.IntRange(0, 3).Draw(t, "remove") == 0 {
					if err := e.Insert(p); err != nil {
						t.Fatal(err)
					}
					model[id] = nil
				} else {
					if err := e.Remove(p); err != nil {
						t.Fatal(err)
					}
					delete(model, id)
				}
			}
			st.apply(t, e)
			d.Root = e.Root()
			slots, depth, errs := CheckTree(st, d)
			for _, err := range errs {
				t.Fatal(err)
			}
			maxDepth = max(maxDepth, depth)
			if len(slots) != len(st.recs) {
				t.Fatalf("%d nodes reachable, %d records: nodes leaked or lost", len(slots), len(st.recs))
			}
			var want []string
			for id := range model {
				want = append(want, id)
			}
			slices.Sort(want)
			lo := rapid.IntRange(0, keys).Draw(t, "lo")
			hi := rapid.IntRange(0, keys).Draw(t, "hi")
			lb := Bound{BoundKind(rapid.IntRange(0, 2).Draw(t, "lok")), u16(lo)}
			hb := Bound{BoundKind(rapid.IntRange(0, 2).Draw(t, "hik")), u16(hi)}
			var in []string
			for _, id := range want {
				k := []byte(id[:2])
				if !lb.below(k) && !hb.above(k) {
					in = append(in, id)
				}
			}
			for _, desc := range []bool{false, true} {
				var got []string
				if err := Walk(st, d.Root, lb, hb, desc, func(p Pair) bool {
					got = append(got, string(p.Key)+string(p.Value))
					return true
				}); err != nil {
					t.Fatal(err)
				}
				exp := slices.Clone(in)
				if desc {
					slices.Reverse(exp)
				}
				if !slices.Equal(got, exp) {
					t.Fatalf("range %v..%v desc %v: got %d pairs, want %d", lb, hb, desc, len(got), len(exp))
				}
			}
		}
	})
	// How deep random draws go depends on the seed; TestTreeShrinksToOneLevel
	// is the one that must reach three levels.
	t.Logf("deepest tree: %d levels", maxDepth)
}

// TestTreeShrinksToOneLevel grows a tree to three levels and removes
// every pair: the tree shrinks back to one leaf, then to nothing, and
// frees every node on the way.
func TestTreeShrinksToOneLevel(t *testing.T) {
	st := newMemStore()
	d := Def{Key: U16, Value: U16, Mode: Replace, NodeBytes: MinNodeBytes}
	const n = 2000
	e := NewEdit(st, 0, d.NodeBytes, st.alloc)
	for i := range n {
		if err := e.Insert(Pair{u16(i * 7 % n), u16(0)}); err != nil {
			t.Fatal(err)
		}
	}
	st.apply(t, e)
	d.Root = e.Root()
	if _, depth, errs := CheckTree(st, d); len(errs) > 0 || depth < 3 {
		t.Fatalf("after %d inserts: depth %d, %v", n, depth, errs)
	}
	for i := range n - 1 {
		e := NewEdit(st, d.Root, d.NodeBytes, st.alloc)
		if err := e.Remove(Pair{u16(i * 3 % n), u16(0)}); err != nil {
			t.Fatal(err)
		}
		st.apply(t, e)
		d.Root = e.Root()
		if i%97 == 0 {
			if _, _, errs := CheckTree(st, d); len(errs) > 0 {
				t.Fatalf("after %d removes: %v", i+1, errs)
			}
		}
	}
	slots, depth, errs := CheckTree(st, d)
	if len(errs) > 0 || depth != 1 || len(slots) != 1 || len(st.recs) != 1 {
		t.Fatalf("one pair left: depth %d, %d nodes, %d records, %v", depth, len(slots), len(st.recs), errs)
	}
	vs, err := Values(st, d.Root, u16((n-1)*3%n))
	if err != nil || len(vs) != 1 || !bytes.Equal(vs[0], u16(0)) {
		t.Fatalf("the last pair: %x, %v", vs, err)
	}
	e = NewEdit(st, d.Root, d.NodeBytes, st.alloc)
	if err := e.Remove(Pair{u16((n - 1) * 3 % n), u16(0)}); err != nil {
		t.Fatal(err)
	}
	st.apply(t, e)
	if e.Root() != 0 || len(st.recs) != 0 {
		t.Fatalf("an empty tree has root %d and %d records", e.Root(), len(st.recs))
	}
}
