package properties

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// EngineIndex is the engine workload with indexes: besides records, its
// transactions create and drop two indexes, one Cluster and one Replace,
// put runs of keys into them, remove runs of keys and single values,
// with nodes small enough that trees grow to three and four levels and
// shrink back. Every check of the engine workload applies to the
// indexes too: recovery gives an acknowledged prefix of their changes,
// a prepared transaction decided rollback leaves no key and decided
// commit all of them, snapshots read the trees as they were, and Check
// finds every tree ordered and balanced and every node accounted for.
func EngineIndex() sim.Workload {
	return sim.Workload{
		Name:        "engine-index",
		Description: "the engine workload with two indexes changed by runs of puts and removes, trees three and four levels deep: recovery, decisions, snapshots and Check cover the keys",
		Share:       6,
		New:         func() sim.Program { return &engineWorkload{indexes: true} },
		Note:        indexNote,
	}
}

// deepest is the deepest tree any index run has read, and shrunk the
// number of times a run saw a tree of three levels or more shrink back to
// one or none.
var deepest struct {
	sync.Mutex
	depth, shrunk int
}

func noteDepth(d int) {
	deepest.Lock()
	deepest.depth = max(deepest.depth, d)
	deepest.Unlock()
}

func indexNote() string {
	deepest.Lock()
	defer deepest.Unlock()
	return fmt.Sprintf("deepest index tree: %d levels; trees of three levels or more shrunk to one: %d times", deepest.depth, deepest.shrunk)
}

// trackDepths notes the depth of each index after a commit, and a tree
// that grew to three levels and shrank back to one. It only counts: a
// database that cannot answer is the checks' business.
func (w *engineWorkload) trackDepths(db *persy.DB) {
	tx, err := db.Begin(persy.TxOptions{})
	if err != nil {
		return
	}
	defer tx.Rollback()
	infos, err := tx.Indexes()
	if err != nil {
		return
	}
	if w.tall == nil {
		w.tall = map[string]bool{}
	}
	for _, info := range infos {
		noteDepth(info.Depth)
		switch {
		case info.Depth >= 3:
			w.tall[info.Name] = true
		case info.Depth <= 1 && w.tall[info.Name]:
			w.tall[info.Name] = false
			deepest.Lock()
			deepest.shrunk++
			deepest.Unlock()
		}
	}
}

// The indexes: "#" and the name is each one's entry in the model, whose
// records stand for pairs: RecordID{Page: key, Pos: value}.
var indexModes = []struct {
	name string
	mode persy.Mode
}{{"i", persy.Cluster}, {"j", persy.Replace}}

const indexMark = "#"

// indexNodeBytes makes a node hold about eight pairs.
const indexNodeBytes = 128

type ix = persy.Index[uint64, uint32]

func pair(k uint64, v uint32) persy.RecordID { return persy.RecordID{Page: k, Pos: v} }

// applyIndex applies an index change to the model's entry recs of an
// index of mode m.
func applyIndex(recs map[persy.RecordID]string, m persy.Mode, o mop) {
	switch o.kind {
	case "iput":
		if m == persy.Replace {
			maps.DeleteFunc(recs, func(p persy.RecordID, _ string) bool { return p.Page == o.id.Page })
		}
		recs[o.id] = ""
	case "iremove":
		maps.DeleteFunc(recs, func(p persy.RecordID, _ string) bool { return p.Page == o.id.Page })
	case "iremoveValue":
		delete(recs, o.id)
	}
}

func modeOf(seg string) persy.Mode {
	for _, im := range indexModes {
		if indexMark+im.name == seg {
			return im.mode
		}
	}
	return 0
}

// indexChange makes one change of an index in tx, valid in view, and
// returns its model ops; created reports a create.
func (w *engineWorkload) indexChange(tx *persy.Tx, view model, ch diskmodel.Chooser) ([]mop, error) {
	im := indexModes[ch.Choose("index", len(indexModes))]
	seg := indexMark + im.name
	recs, exists := view[seg]
	h := persy.IndexOf[uint64, uint32](im.name)
	keys := func() []uint64 {
		var ks []uint64
		for p := range recs {
			ks = append(ks, p.Page)
		}
		slices.Sort(ks)
		return slices.Compact(ks)
	}
	switch k := ch.Choose("indexChange", 8); {
	case !exists:
		return []mop{{kind: "create", seg: seg}}, persy.CreateIndex[uint64, uint32](tx, im.name, im.mode)
	case k == 0 && ch.Choose("indexDrop", 3) == 0:
		return []mop{{kind: "drop", seg: seg}}, tx.DropIndex(im.name)
	case k <= 3 || len(recs) == 0: // a run of puts
		from := uint64(ch.Choose("from", 300))
		n := 1 + ch.Choose("run", 80)
		step := uint64(1 + ch.Choose("step", 3))
		v := uint32(ch.Choose("value", 3))
		var ops []mop
		for i := range n {
			key := from + uint64(i)*step
			if err := h.Put(tx, key, v); err != nil {
				return nil, err
			}
			ops = append(ops, mop{kind: "iput", seg: seg, id: pair(key, v)})
		}
		return ops, nil
	case k <= 5: // a run of removes, of keys that are there, or all from one on
		ks := keys()
		at := ch.Choose("removeFrom", len(ks))
		n := 1 + ch.Choose("run", 80)
		if k == 5 {
			at, n = at/4, len(ks)
		}
		var ops []mop
		for _, key := range ks[at:min(len(ks), at+n)] {
			if err := h.Remove(tx, key); err != nil {
				return nil, err
			}
			ops = append(ops, mop{kind: "iremove", seg: seg, id: pair(key, 0)})
		}
		return ops, nil
	default: // one value of a key that is there
		ps := slices.SortedFunc(maps.Keys(recs), func(a, b persy.RecordID) int {
			return cmp.Or(cmp.Compare(a.Page, b.Page), cmp.Compare(a.Pos, b.Pos))
		})
		p := ps[ch.Choose("pair", len(ps))]
		return []mop{{kind: "iremoveValue", seg: seg, id: p}}, h.RemoveValue(tx, p.Page, p.Pos)
	}
}

// dumpIndexes adds every index of s to m, as its entry of pairs, and
// notes the depth of its tree.
func dumpIndexes(s *persy.Snapshot, m model) error {
	infos, err := s.Indexes()
	if err != nil {
		return err
	}
	for _, info := range infos {
		noteDepth(info.Depth)
		recs := map[persy.RecordID]string{}
		m[indexMark+info.Name] = recs
		h := ix{Name: info.Name}
		for e, err := range h.Range(s, persy.Unbounded[uint64](), persy.Unbounded[uint64]()) {
			if err != nil {
				return err
			}
			if len(e.Values) == 0 {
				return fmt.Errorf("index %q: key %d holds no values", info.Name, e.Key)
			}
			for _, v := range e.Values {
				recs[pair(e.Key, v)] = ""
			}
		}
		// The same keys backwards.
		var back []uint64
		for e, err := range h.RangeDesc(s, persy.Unbounded[uint64](), persy.Unbounded[uint64]()) {
			if err != nil {
				return err
			}
			back = append(back, e.Key)
		}
		slices.Reverse(back)
		var fwd []uint64
		for p := range recs {
			fwd = append(fwd, p.Page)
		}
		slices.Sort(fwd)
		if fwd = slices.Compact(fwd); !slices.Equal(fwd, back) {
			return fmt.Errorf("index %q: a descending range reads %d keys, an ascending one %d", info.Name, len(back), len(fwd))
		}
	}
	return nil
}
