package index

import (
	"bytes"
	"fmt"
)

// CheckTree walks the tree of definition d and returns the slots of its
// nodes and every violation: a node that does not decode or is reached
// twice, pairs out of order or outside their separators, leaves at
// different depths, an inner node with fewer than two children, an
// empty leaf (the root included: an empty tree has no root node), a key
// or value that is not of the index's types, and a key with two values
// in an index whose mode allows one. It also returns the tree's depth:
// the depth of its leaves, 0 for an empty tree.
func CheckTree(src Source, d Def) (slots []uint64, depth int, errs []error) {
	c := &checker{src: src, d: d, seen: map[uint64]bool{}, leafDepth: -1}
	if d.Root != 0 {
		c.node(d.Root, nil, nil, 1, true)
	}
	return c.slots, max(c.leafDepth, 0), c.errs
}

type checker struct {
	src       Source
	d         Def
	seen      map[uint64]bool
	slots     []uint64
	leafDepth int
	prev      *Pair
	errs      []error
}

func (c *checker) fail(slot uint64, format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("index node %d: %s", slot, fmt.Sprintf(format, a...)))
}

func (c *checker) node(slot uint64, lo, hi *Pair, depth int, root bool) {
	if c.seen[slot] {
		c.fail(slot, "reached twice")
		return
	}
	c.seen[slot] = true
	c.slots = append(c.slots, slot)
	n, err := c.src.Node(slot)
	if err != nil {
		c.fail(slot, "%v", err)
		return
	}
	in := func(p Pair) bool {
		return (lo == nil || Compare(*lo, p) <= 0) && (hi == nil || Compare(p, *hi) < 0)
	}
	if n.Leaf {
		if c.leafDepth < 0 {
			c.leafDepth = depth
		} else if depth != c.leafDepth {
			c.fail(slot, "a leaf at depth %d, another at %d", depth, c.leafDepth)
		}
		if len(n.Pairs) == 0 {
			c.fail(slot, "an empty leaf")
		}
		for _, p := range n.Pairs {
			if !in(p) {
				c.fail(slot, "pair %x=%x outside its separators", p.Key, p.Value)
			}
			if err := CheckEncoded(c.d.Key, p.Key); err != nil {
				c.fail(slot, "key %x: %v", p.Key, err)
			}
			if err := CheckEncoded(c.d.Value, p.Value); err != nil {
				c.fail(slot, "value %x: %v", p.Value, err)
			}
			if c.prev != nil {
				if Compare(*c.prev, p) >= 0 {
					c.fail(slot, "pair %x=%x out of order", p.Key, p.Value)
				}
				if c.d.Mode != Cluster && bytes.Equal(c.prev.Key, p.Key) {
					c.fail(slot, "key %x holds two values in a %v index", p.Key, c.d.Mode)
				}
			}
			q := p
			c.prev = &q
		}
		return
	}
	if len(n.Children) < 2 || len(n.Seps) != len(n.Children)-1 {
		c.fail(slot, "an inner node of %d children and %d separators", len(n.Children), len(n.Seps))
		return
	}
	for i, s := range n.Seps {
		if !in(s) {
			c.fail(slot, "separator %d outside its parent's", i)
		}
	}
	for i, ch := range n.Children {
		clo, chi := lo, hi
		if i > 0 {
			clo = &n.Seps[i-1]
		}
		if i < len(n.Seps) {
			chi = &n.Seps[i]
		}
		c.node(ch, clo, chi, depth+1, false)
	}
}
