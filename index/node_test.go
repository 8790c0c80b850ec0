package index

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func FuzzDecode(f *testing.F) {
	f.Add((&Node{Leaf: true, Pairs: []Pair{{[]byte("a"), []byte("1")}, {[]byte("b"), nil}}}).Encode())
	f.Add((&Node{Children: []uint64{3, 9}, Seps: []Pair{{[]byte("m"), []byte{}}}}).Encode())
	f.Add(Def{Key: String, Value: RecordID, Mode: Cluster, NodeBytes: 4096, Root: 7}.Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("an error that is not ErrCorrupt: %v", err)
			}
		} else {
			again, err := Decode(n.Encode())
			if err != nil || !reflect.DeepEqual(normal(again), normal(n)) {
				t.Fatalf("a node does not survive its encoding: %v", err)
			}
		}
		if d, err := DecodeDef(b); err == nil {
			if d2, err := DecodeDef(d.Encode()); err != nil || d2 != d {
				t.Fatalf("a definition does not survive its encoding: %+v %+v %v", d, d2, err)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("an error that is not ErrCorrupt: %v", err)
		}
	})
}

// normal makes empty and nil slices alike for comparison.
func normal(n *Node) *Node {
	c := &Node{Leaf: n.Leaf, Children: n.Children}
	for _, ps := range [][]Pair{n.Pairs, n.Seps} {
		var out []Pair
		for _, p := range ps {
			out = append(out, Pair{append([]byte{}, p.Key...), append([]byte{}, p.Value...)})
		}
		if n.Leaf {
			c.Pairs = out
		} else {
			c.Seps = out
		}
		if len(ps) == 0 {
			break
		}
	}
	return c
}

func TestDecodeRejects(t *testing.T) {
	good := (&Node{Leaf: true, Pairs: []Pair{{[]byte("a"), nil}, {[]byte("b"), nil}}}).Encode()
	if _, err := Decode(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{
		"empty":         nil,
		"bad kind":      append([]byte{9}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing byte": append(bytes.Clone(good), 0),
		"out of order":  (&Node{Leaf: true, Pairs: []Pair{{[]byte("b"), nil}, {[]byte("a"), nil}}}).Encode(),
		"one child":     {kindInner, 1, 5},
		"child zero":    (&Node{Children: []uint64{0, 2}, Seps: []Pair{{[]byte("m"), nil}}}).Encode(),
		"huge key":      append([]byte{kindLeaf, 1, 0xff, 0x7f}, make([]byte, 20)...),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
