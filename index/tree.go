package index

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
)

// Source reads an index's nodes by slot. A node it returns is shared:
// callers never change it.
type Source interface {
	Node(slot uint64) (*Node, error)
}

// Edit changes a tree read from a Source, copying each node it changes.
// Its nodes are the tree as edited; Changes lists the records to write.
type Edit struct {
	src      Source
	root     uint64
	maxBytes int
	alloc    func() (uint64, error)
	nodes    map[uint64]*Node // changed or created
	created  map[uint64]bool
	deleted  map[uint64]bool
	spare    []uint64 // created then dropped: reused first
}

// NewEdit starts an edit of the tree at root. alloc hands out a free
// slot of the index's segment for each node the edit creates.
func NewEdit(src Source, root uint64, nodeBytes int, alloc func() (uint64, error)) *Edit {
	return &Edit{src: src, root: root, maxBytes: nodeBytes, alloc: alloc,
		nodes: map[uint64]*Node{}, created: map[uint64]bool{}, deleted: map[uint64]bool{}}
}

// Root is the edited tree's root slot, 0 when it is empty.
func (e *Edit) Root() uint64 { return e.root }

// Node reads a node of the edited tree.
func (e *Edit) Node(slot uint64) (*Node, error) {
	if n := e.nodes[slot]; n != nil {
		return n, nil
	}
	if e.deleted[slot] {
		return nil, fmt.Errorf("%w: node %d reached after it was merged away", ErrCorrupt, slot)
	}
	return e.src.Node(slot)
}

func (e *Edit) mut(slot uint64) (*Node, error) {
	if n := e.nodes[slot]; n != nil {
		return n, nil
	}
	n, err := e.Node(slot)
	if err != nil {
		return nil, err
	}
	c := n.clone()
	e.nodes[slot] = c
	return c, nil
}

func (e *Edit) add(n *Node) (uint64, error) {
	var slot uint64
	if k := len(e.spare); k > 0 {
		slot, e.spare = e.spare[k-1], e.spare[:k-1]
	} else {
		s, err := e.alloc()
		if err != nil {
			return 0, err
		}
		slot = s
	}
	e.nodes[slot] = n
	e.created[slot] = true
	return slot, nil
}

func (e *Edit) drop(slot uint64) {
	delete(e.nodes, slot)
	if e.created[slot] {
		delete(e.created, slot)
		e.spare = append(e.spare, slot)
		return
	}
	e.deleted[slot] = true
}

// Write is one node record an edit changes: created, rewritten, or
// deleted (Data nil).
type Write struct {
	Slot    uint64
	Data    []byte
	Created bool
}

// Changes returns the records the edit writes, by slot, and the slots it
// allocated and did not use.
func (e *Edit) Changes() (writes []Write, unused []uint64) {
	for s, n := range e.nodes {
		writes = append(writes, Write{Slot: s, Data: n.Encode(), Created: e.created[s]})
	}
	for s := range e.deleted {
		writes = append(writes, Write{Slot: s})
	}
	slices.SortFunc(writes, func(a, b Write) int { return cmpU64(a.Slot, b.Slot) })
	unused = slices.Clone(e.spare)
	slices.Sort(unused)
	return writes, unused
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// childFor is the child of inner node n that holds p.
func childFor(n *Node, p Pair) int {
	return sort.Search(len(n.Seps), func(i int) bool { return Compare(n.Seps[i], p) > 0 })
}

func searchPairs(ps []Pair, p Pair) (int, bool) {
	return slices.BinarySearchFunc(ps, p, Compare)
}

// Insert adds p to the tree; nothing changes if it is there.
func (e *Edit) Insert(p Pair) error {
	p = p.clone()
	if e.root == 0 {
		slot, err := e.add(&Node{Leaf: true, Pairs: []Pair{p}})
		e.root = slot
		return err
	}
	sep, right, err := e.insert(e.root, p)
	if err != nil || right == 0 {
		return err
	}
	slot, err := e.add(&Node{Children: []uint64{e.root, right}, Seps: []Pair{sep}})
	if err != nil {
		return err
	}
	e.root = slot
	return nil
}

// insert adds p below slot; when the node splits it returns the new
// right sibling and the separator before it.
func (e *Edit) insert(slot uint64, p Pair) (Pair, uint64, error) {
	n, err := e.Node(slot)
	if err != nil {
		return Pair{}, 0, err
	}
	if n.Leaf {
		i, found := searchPairs(n.Pairs, p)
		if found {
			return Pair{}, 0, nil
		}
		m, err := e.mut(slot)
		if err != nil {
			return Pair{}, 0, err
		}
		m.Pairs = slices.Insert(m.Pairs, i, p)
		return e.split(m)
	}
	i := childFor(n, p)
	sep, right, err := e.insert(n.Children[i], p)
	if err != nil || right == 0 {
		return Pair{}, 0, err
	}
	m, err := e.mut(slot)
	if err != nil {
		return Pair{}, 0, err
	}
	m.Seps = slices.Insert(m.Seps, i, sep)
	m.Children = slices.Insert(m.Children, i+1, right)
	return e.split(m)
}

// split splits m in two of about equal size if it is over the node size
// and has enough entries (two pairs, four children).
func (e *Edit) split(m *Node) (Pair, uint64, error) {
	if m.Size() <= e.maxBytes || (m.Leaf && len(m.Pairs) < 2) || (!m.Leaf && len(m.Children) < 4) {
		return Pair{}, 0, nil
	}
	r := &Node{Leaf: m.Leaf}
	var sep Pair
	if m.Leaf {
		at := halfPairs(m.Pairs, 1)
		r.Pairs = slices.Clone(m.Pairs[at:])
		m.Pairs = slices.Clip(m.Pairs[:at])
		sep = r.Pairs[0]
	} else {
		at := halfPairs(m.Seps, 2) // children [:at+1] stay
		sep = m.Seps[at]
		r.Children = slices.Clone(m.Children[at+1:])
		r.Seps = slices.Clone(m.Seps[at+1:])
		m.Children = slices.Clip(m.Children[:at+1])
		m.Seps = slices.Clip(m.Seps[:at])
	}
	slot, err := e.add(r)
	return sep, slot, err
}

// halfPairs is the index at which ps splits into halves of about equal
// bytes, keeping at least keep entries on each side (for separators: so
// that each side has at least two children).
func halfPairs(ps []Pair, keep int) int {
	total := 0
	for _, p := range ps {
		total += p.size()
	}
	acc := 0
	at := 0
	for at < len(ps) && acc+ps[at].size() <= total/2 {
		acc += ps[at].size()
		at++
	}
	lo, hi := keep, len(ps)-keep
	if keep == 2 {
		lo, hi = 1, len(ps)-2 // at separators left, one goes up
	}
	return max(lo, min(at, hi))
}

// Remove takes p out of the tree; nothing changes if it is not there.
func (e *Edit) Remove(p Pair) error {
	if e.root == 0 {
		return nil
	}
	_, err := e.remove(e.root, p)
	if err != nil {
		return err
	}
	for e.root != 0 {
		n, err := e.Node(e.root)
		if err != nil {
			return err
		}
		switch {
		case n.Leaf && len(n.Pairs) == 0:
			e.drop(e.root)
			e.root = 0
		case !n.Leaf && len(n.Children) == 1:
			old := e.root
			e.root = n.Children[0]
			e.drop(old)
		default:
			return nil
		}
	}
	return nil
}

func (e *Edit) underfull(n *Node) bool {
	if n.Leaf {
		return len(n.Pairs) == 0 || n.Size() < e.maxBytes/4
	}
	return len(n.Children) < 2 || n.Size() < e.maxBytes/4
}

// remove takes p out below slot and reports whether the node is now
// under full.
func (e *Edit) remove(slot uint64, p Pair) (bool, error) {
	n, err := e.Node(slot)
	if err != nil {
		return false, err
	}
	if n.Leaf {
		i, found := searchPairs(n.Pairs, p)
		if !found {
			return false, nil
		}
		m, err := e.mut(slot)
		if err != nil {
			return false, err
		}
		m.Pairs = slices.Delete(m.Pairs, i, i+1)
		return e.underfull(m), nil
	}
	i := childFor(n, p)
	under, err := e.remove(n.Children[i], p)
	if err != nil || !under {
		return false, err
	}
	m, err := e.mut(slot)
	if err != nil {
		return false, err
	}
	if err := e.rebalance(m, i); err != nil {
		return false, err
	}
	return e.underfull(m), nil
}

// rebalance merges child i of m with a sibling, or moves entries between
// them when together they are over the node size.
func (e *Edit) rebalance(m *Node, i int) error {
	a := i
	if a == len(m.Children)-1 {
		a--
	}
	if a < 0 {
		return nil // a single child: the parent is fixed above
	}
	l, err := e.mut(m.Children[a])
	if err != nil {
		return err
	}
	r, err := e.mut(m.Children[a+1])
	if err != nil {
		return err
	}
	if l.Leaf != r.Leaf {
		return fmt.Errorf("%w: siblings at different depths", ErrCorrupt)
	}
	if l.Leaf {
		all := append(slices.Clip(l.Pairs), r.Pairs...)
		if (&Node{Leaf: true, Pairs: all}).Size() <= e.maxBytes || len(all) < 2 {
			l.Pairs = all
			e.drop(m.Children[a+1])
			m.Children = slices.Delete(m.Children, a+1, a+2)
			m.Seps = slices.Delete(m.Seps, a, a+1)
			return nil
		}
		at := halfPairs(all, 1)
		l.Pairs, r.Pairs = slices.Clip(all[:at]), slices.Clone(all[at:])
		m.Seps[a] = r.Pairs[0]
		return nil
	}
	children := append(slices.Clip(l.Children), r.Children...)
	seps := append(append(slices.Clip(l.Seps), m.Seps[a]), r.Seps...)
	if (&Node{Children: children, Seps: seps}).Size() <= e.maxBytes || len(children) < 4 {
		l.Children, l.Seps = children, seps
		e.drop(m.Children[a+1])
		m.Children = slices.Delete(m.Children, a+1, a+2)
		m.Seps = slices.Delete(m.Seps, a, a+1)
		return nil
	}
	at := halfPairs(seps, 2)
	m.Seps[a] = seps[at]
	l.Children, l.Seps = slices.Clip(children[:at+1]), slices.Clip(seps[:at])
	r.Children, r.Seps = slices.Clone(children[at+1:]), slices.Clone(seps[at+1:])
	return nil
}

// BoundKind says how a range bound counts.
type BoundKind uint8

// The kinds of bound.
const (
	Unbounded BoundKind = iota
	Included
	Excluded
)

// Bound is one end of a range of keys.
type Bound struct {
	Kind BoundKind
	Key  []byte
}

// below reports whether key is before the range starting at b.
func (b Bound) below(key []byte) bool {
	switch b.Kind {
	case Included:
		return bytes.Compare(key, b.Key) < 0
	case Excluded:
		return bytes.Compare(key, b.Key) <= 0
	}
	return false
}

// above reports whether key is past the range ending at b.
func (b Bound) above(key []byte) bool {
	switch b.Kind {
	case Included:
		return bytes.Compare(key, b.Key) > 0
	case Excluded:
		return bytes.Compare(key, b.Key) >= 0
	}
	return false
}

// Walk yields the pairs of the tree at root whose keys lie between lo and
// hi, in order, or in reverse order if desc. It stops when yield returns
// false.
func Walk(src Source, root uint64, lo, hi Bound, desc bool, yield func(Pair) bool) error {
	if root == 0 {
		return nil
	}
	_, err := walk(src, root, lo, hi, desc, yield)
	return err
}

func walk(src Source, slot uint64, lo, hi Bound, desc bool, yield func(Pair) bool) (bool, error) {
	n, err := src.Node(slot)
	if err != nil {
		return false, err
	}
	// Keys are in order, so the pairs and children outside the bounds at
	// the walk's start are a run a binary search skips: a range of a few
	// keys reads a few pairs of each node, not every pair before them.
	if n.Leaf {
		if !desc {
			for i := sort.Search(len(n.Pairs), func(i int) bool { return !lo.below(n.Pairs[i].Key) }); i < len(n.Pairs); i++ {
				p := n.Pairs[i]
				if hi.above(p.Key) {
					return false, nil
				}
				if !yield(p) {
					return false, nil
				}
			}
			return true, nil
		}
		for i := sort.Search(len(n.Pairs), func(i int) bool { return hi.above(n.Pairs[i].Key) }) - 1; i >= 0; i-- {
			p := n.Pairs[i]
			if lo.below(p.Key) {
				return false, nil
			}
			if !yield(p) {
				return false, nil
			}
		}
		return true, nil
	}
	// Child i holds pairs p with Seps[i-1] <= p < Seps[i].
	if !desc {
		for i := sort.Search(len(n.Seps), func(i int) bool { return !lo.below(n.Seps[i].Key) }); i < len(n.Children); i++ {
			if i > 0 && hi.above(n.Seps[i-1].Key) {
				return false, nil
			}
			more, err := walk(src, n.Children[i], lo, hi, desc, yield)
			if err != nil || !more {
				return false, err
			}
		}
		return true, nil
	}
	for i := min(sort.Search(len(n.Seps), func(i int) bool { return hi.above(n.Seps[i].Key) }), len(n.Children)-1); i >= 0; i-- {
		if i < len(n.Seps) && lo.below(n.Seps[i].Key) {
			return false, nil
		}
		more, err := walk(src, n.Children[i], lo, hi, desc, yield)
		if err != nil || !more {
			return false, err
		}
	}
	return true, nil
}

// Values returns the values of key in the tree at root, in order. They
// alias the nodes src returns, which are shared: callers never change
// them.
func Values(src Source, root uint64, key []byte) ([][]byte, error) {
	var vs [][]byte
	b := Bound{Included, key}
	err := Walk(src, root, b, b, false, func(p Pair) bool {
		vs = append(vs, p.Value)
		return true
	})
	return vs, err
}
