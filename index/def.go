package index

import (
	"encoding/binary"
	"fmt"
)

// Mode says what a key holds.
type Mode uint8

// The value modes.
const (
	// Replace: a key holds one value; a put overwrites it.
	Replace Mode = 1
	// Exclusive: a key holds one value; a put of a second, distinct value
	// fails at prepare.
	Exclusive Mode = 2
	// Cluster: a key holds a set of values, read in value order.
	Cluster Mode = 3
)

// String names the mode.
func (m Mode) String() string {
	switch m {
	case Replace:
		return "Replace"
	case Exclusive:
		return "Exclusive"
	case Cluster:
		return "Cluster"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Node sizes an index may be created with.
const (
	MinNodeBytes     = 128
	DefaultNodeBytes = 4096
	MaxNodeBytes     = 64 << 10
)

// Def is an index's definition and root, the content of slot 0 of its
// segment.
type Def struct {
	Key, Value Type
	Mode       Mode
	// NodeBytes is the size past which a node splits.
	NodeBytes int
	// Root is the root node's slot; 0 for an empty tree.
	Root uint64
}

const defMagic = "pIX1"

// Encode returns the definition's bytes.
func (d Def) Encode() []byte {
	b := append([]byte(defMagic), byte(d.Key), byte(d.Value), byte(d.Mode))
	b = binary.AppendUvarint(b, uint64(d.NodeBytes))
	return binary.AppendUvarint(b, d.Root)
}

// DecodeDef reads a definition.
func DecodeDef(b []byte) (Def, error) {
	if len(b) < len(defMagic)+3 || string(b[:len(defMagic)]) != defMagic {
		return Def{}, fmt.Errorf("%w: not an index definition", ErrCorrupt)
	}
	d := Def{Key: Type(b[4]), Value: Type(b[5]), Mode: Mode(b[6])}
	r := &reader{b: b[7:]}
	nb := r.uvarint()
	d.Root = r.uvarint()
	if r.err != nil {
		return Def{}, r.err
	}
	d.NodeBytes = int(min(nb, MaxNodeBytes+1))
	if err := d.valid(); err != nil || len(r.b) != 0 {
		return Def{}, fmt.Errorf("%w: definition %+v", ErrCorrupt, d)
	}
	return d, nil
}

func (d Def) valid() error {
	if !d.Key.Valid() || !d.Value.Valid() || d.Mode < Replace || d.Mode > Cluster ||
		d.NodeBytes < MinNodeBytes || d.NodeBytes > MaxNodeBytes || d.Root >= 1<<40 {
		return fmt.Errorf("bad definition")
	}
	return nil
}
