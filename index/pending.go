package index

import (
	"bytes"
	"slices"
	"strings"
)

// Change is a transaction's pending change of one key: whether the
// values the key had are dropped, then the values put (true) or removed
// (false). The last change of a value is the one that counts, so a
// change holds at most one entry per value.
type Change struct {
	Clear bool
	Vals  map[string]bool
}

// Apply returns base, the key's values before the change in order, as
// the change leaves them, in order.
func (c *Change) Apply(base [][]byte) [][]byte {
	var out [][]byte
	if !c.Clear {
		for _, v := range base {
			if put, ok := c.Vals[string(v)]; !ok || put {
				out = append(out, v)
			}
		}
	}
	for v, put := range c.Vals {
		if !put {
			continue
		}
		i, found := slices.BinarySearchFunc(out, []byte(v), bytes.Compare)
		if !found {
			out = slices.Insert(out, i, []byte(v))
		}
	}
	return out
}

// Pending is a transaction's pending changes of one index, by key.
type Pending struct {
	Mode   Mode
	keys   map[string]*Change
	order  []string // the keys, sorted when sorted is true
	sorted bool
}

// NewPending returns an empty set of changes for an index of mode m.
func NewPending(m Mode) *Pending {
	return &Pending{Mode: m, keys: map[string]*Change{}, sorted: true}
}

func (p *Pending) change(key []byte) *Change {
	c := p.keys[string(key)]
	if c == nil {
		c = &Change{Vals: map[string]bool{}}
		p.keys[string(key)] = c
		p.order = append(p.order, string(key))
		if n := len(p.order); n > 1 && p.order[n-2] > p.order[n-1] {
			p.sorted = false
		}
	}
	return c
}

// Has reports whether key has a pending change.
func (p *Pending) Has(key []byte) bool { return p.keys[string(key)] != nil }

// Put records a put of value for key: under Replace it stands for every
// value the key had.
func (p *Pending) Put(key, value []byte) {
	c := p.change(key)
	if p.Mode == Replace {
		c.Clear = true
		clear(c.Vals)
	}
	c.Vals[string(value)] = true
}

// RemoveValue records the removal of one value of key.
func (p *Pending) RemoveValue(key, value []byte) {
	p.change(key).Vals[string(value)] = false
}

// Remove records the removal of every value of key.
func (p *Pending) Remove(key []byte) {
	c := p.change(key)
	c.Clear = true
	clear(c.Vals)
}

// Len is the number of keys changed.
func (p *Pending) Len() int { return len(p.keys) }

// Keys returns the changed keys in order.
func (p *Pending) Keys() []string {
	if !p.sorted {
		slices.Sort(p.order)
		p.sorted = true
	}
	return p.order
}

// Change returns the pending change of key, nil if there is none.
func (p *Pending) Change(key []byte) *Change { return p.keys[string(key)] }

// Merge yields, in key order (reversed if desc), every key between lo
// and hi that holds values once the pending changes p (nil for none) are
// applied to the pairs walk yields, with its values in order. walk is a
// walk of the committed tree over the same bounds and direction. The key
// and values slices yield is given are valid only during the call: Merge
// reuses them for the next key (it read a range with three allocations
// per key before).
func Merge(p *Pending, lo, hi Bound, desc bool, walk func(yield func(Pair) bool) error, yield func(key []byte, values [][]byte) bool) error {
	var keys []string
	if p != nil {
		for _, k := range p.Keys() {
			if !lo.below([]byte(k)) && !hi.above([]byte(k)) {
				keys = append(keys, k)
			}
		}
		if desc {
			slices.Reverse(keys)
		}
	}
	// before reports whether pending key a comes before b in walk order.
	before := func(a string, b []byte) bool {
		if desc {
			return a > string(b)
		}
		return a < string(b)
	}
	emit := func(key []byte, base [][]byte) bool {
		vals := base
		if p != nil {
			if c := p.keys[string(key)]; c != nil {
				vals = c.Apply(base)
			}
		}
		if len(vals) == 0 {
			return true
		}
		return yield(key, vals)
	}
	stopped := false
	var cur []byte     // the key of group, in a buffer reused key after key
	var group [][]byte // its values so far, likewise
	have := false
	flush := func() bool {
		if !have {
			return true
		}
		if desc {
			slices.Reverse(group)
		}
		for len(keys) > 0 && before(keys[0], cur) {
			k := keys[0]
			keys = keys[1:]
			if !emit([]byte(k), nil) {
				return false
			}
		}
		if len(keys) > 0 && keys[0] == string(cur) {
			keys = keys[1:]
		}
		ok := emit(cur, group)
		group, have = group[:0], false
		return ok
	}
	err := walk(func(pr Pair) bool {
		if have && !bytes.Equal(cur, pr.Key) {
			if !flush() {
				stopped = true
				return false
			}
		}
		if !have {
			cur, have = append(cur[:0], pr.Key...), true
		}
		group = append(group, pr.Value)
		return true
	})
	if err != nil || stopped {
		return err
	}
	if !flush() {
		return nil
	}
	for _, k := range keys {
		if !emit([]byte(k), nil) {
			return nil
		}
	}
	return nil
}

// KeyString is a key's bytes for messages: text if it is printable, hex
// otherwise.
func KeyString(t Type, key []byte) string {
	switch t {
	case String:
		if strings.ToValidUTF8(string(key), "") == string(key) {
			return "\"" + string(key) + "\""
		}
	}
	return "0x" + hexOf(key)
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}
