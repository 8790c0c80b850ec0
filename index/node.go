package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Pair is one entry of a tree: an encoded key and one of its encoded
// values. A tree is a set of pairs ordered by key, then value, so a
// Cluster key's values may span leaves and no node grows with them.
type Pair struct {
	Key, Value []byte
}

// Compare orders pairs by key, then value.
func Compare(a, b Pair) int {
	if c := bytes.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return bytes.Compare(a.Value, b.Value)
}

func (p Pair) size() int {
	return uvarintLen(len(p.Key)) + len(p.Key) + uvarintLen(len(p.Value)) + len(p.Value)
}

func (p Pair) clone() Pair {
	return Pair{bytes.Clone(p.Key), bytes.Clone(p.Value)}
}

// Node is one tree node. A leaf holds pairs; an inner node holds
// len(Seps)+1 children, child i holding the pairs p with
// Seps[i-1] <= p < Seps[i]. Children are record slots of the index's
// segment.
type Node struct {
	Leaf     bool
	Pairs    []Pair   // leaf
	Children []uint64 // inner
	Seps     []Pair   // inner
}

const (
	kindLeaf  = 1
	kindInner = 2
)

// ErrCorrupt is wrapped by every error decoding a node or a definition.
var ErrCorrupt = errors.New("index: corrupt")

func uvarintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

// Size is the node's encoded size in bytes.
func (n *Node) Size() int {
	s := 1 + uvarintLen(len(n.Pairs)+len(n.Children))
	for _, p := range n.Pairs {
		s += p.size()
	}
	for _, c := range n.Children {
		s += uvarintLen(int(c & 0x7fffffffffffffff))
	}
	for _, p := range n.Seps {
		s += p.size()
	}
	return s
}

// Encode returns the node's bytes.
func (n *Node) Encode() []byte {
	b := make([]byte, 0, n.Size())
	if n.Leaf {
		b = append(b, kindLeaf)
		b = binary.AppendUvarint(b, uint64(len(n.Pairs)))
		for _, p := range n.Pairs {
			b = appendPair(b, p)
		}
		return b
	}
	b = append(b, kindInner)
	b = binary.AppendUvarint(b, uint64(len(n.Children)))
	for i, c := range n.Children {
		b = binary.AppendUvarint(b, c)
		if i < len(n.Seps) {
			b = appendPair(b, n.Seps[i])
		}
	}
	return b
}

func appendPair(b []byte, p Pair) []byte {
	b = binary.AppendUvarint(b, uint64(len(p.Key)))
	b = append(b, p.Key...)
	b = binary.AppendUvarint(b, uint64(len(p.Value)))
	return append(b, p.Value...)
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = fmt.Errorf("%w: bad varint", ErrCorrupt)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(max int) []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(r.b)) {
		r.err = fmt.Errorf("%w: a field of %d bytes", ErrCorrupt, n)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) pair() Pair {
	k := r.bytes(MaxKeyBytes)
	v := r.bytes(MaxValueBytes)
	return Pair{k, v}
}

// Decode reads a node, whose pairs alias b: b must not change after.
// Every pair is in order, an inner node has at least
// two children, and a child is never slot 0 (the definition's); anything
// else is an error wrapping ErrCorrupt.
func Decode(b []byte) (*Node, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: a node of %d bytes", ErrCorrupt, len(b))
	}
	r := &reader{b: b[1:]}
	n := &Node{Leaf: b[0] == kindLeaf}
	if b[0] != kindLeaf && b[0] != kindInner {
		return nil, fmt.Errorf("%w: node kind %d", ErrCorrupt, b[0])
	}
	count := r.uvarint()
	// Every pair or child takes at least one byte.
	if count > uint64(len(r.b)) {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", ErrCorrupt, count, len(b))
	}
	if n.Leaf {
		n.Pairs = make([]Pair, 0, count)
		for i := uint64(0); i < count && r.err == nil; i++ {
			p := r.pair()
			if i > 0 && r.err == nil && Compare(n.Pairs[i-1], p) >= 0 {
				return nil, fmt.Errorf("%w: leaf pairs out of order", ErrCorrupt)
			}
			n.Pairs = append(n.Pairs, p)
		}
	} else {
		if count < 2 {
			return nil, fmt.Errorf("%w: an inner node of %d children", ErrCorrupt, count)
		}
		n.Children = make([]uint64, 0, count)
		n.Seps = make([]Pair, 0, count-1)
		for i := uint64(0); i < count && r.err == nil; i++ {
			c := r.uvarint()
			if r.err == nil && (c == 0 || c >= 1<<40) {
				return nil, fmt.Errorf("%w: child %d", ErrCorrupt, c)
			}
			n.Children = append(n.Children, c)
			if i+1 < count {
				p := r.pair()
				if len(n.Seps) > 0 && r.err == nil && Compare(n.Seps[len(n.Seps)-1], p) >= 0 {
					return nil, fmt.Errorf("%w: separators out of order", ErrCorrupt)
				}
				n.Seps = append(n.Seps, p)
			}
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the node", ErrCorrupt, len(r.b))
	}
	return n, nil
}

func (n *Node) clone() *Node {
	return &Node{Leaf: n.Leaf, Pairs: clonePairs(n.Pairs), Children: append([]uint64(nil), n.Children...), Seps: clonePairs(n.Seps)}
}

func clonePairs(ps []Pair) []Pair {
	if ps == nil {
		return nil
	}
	return append([]Pair(nil), ps...)
}
