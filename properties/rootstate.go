// Package properties holds persy-go's crash properties: workloads for the
// crash runner (package sim) that exercise one layer of the file format or
// the engine, with checks that state its invariants (DESIGN.md section 6).
// Their tests run them at a quick setting; persy sim runs them at scale.
package properties

import (
	"fmt"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// Workloads lists the crash properties, the layers from the bottom up;
// engine-chain, whose runs cross power cuts and recoveries, before the
// engine's single crash per run, so that persy sim -failfast reaches it
// early.
func Workloads() []sim.Workload {
	return []sim.Workload{RootState(), Allocator(), Journal(), EngineChain(), Engine(), EngineIndex()}
}

// RootState formats a file and stores root states one generation after
// another, sometimes growing the file first. After a crash the newest
// valid copy must be a state exactly as stored, of a generation no older
// than the last one acknowledged: the double-buffered slots never lose an
// acknowledged state and never mix two.
func RootState() sim.Workload {
	return sim.Workload{
		Name:        "root-state",
		Description: "format, then store root states through the two slots: the newest acknowledged state or a later one survives, never a mix",
		New:         func() sim.Program { return &rootState{} },
	}
}

type rootState struct {
	formatted bool                  // Format returned
	written   map[uint64]page.State // by generation
	acked     uint64                // the newest generation Store returned for
	last      uint64                // the newest generation written
}

func (r *rootState) Run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	return sim.RunResult(r.run(s, ch))
}

func (r *rootState) run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	// What Format writes is written before it returns.
	first := page.State{Gen: 1, End: page.FirstPage}
	r.written, r.last = map[uint64]page.State{first.Gen: first}, first.Gen
	st, err := page.Format(s)
	if err != nil {
		return err
	}
	if st != first {
		return fmt.Errorf("page.Format made %+v, want %+v", st, first)
	}
	r.formatted, r.acked = true, st.Gen
	for range 1 + ch.Choose("stores", 10) {
		if grow := ch.Choose("grow", 4); grow > 0 {
			// The state may point only into durable size: grow, Sync.
			if err := s.Grow(st.End + int64(grow)*page.MinBytes); err != nil {
				return err
			}
			if err := s.Sync(); err != nil {
				return err
			}
			st.End += int64(grow) * page.MinBytes
		}
		st.Gen++
		c := ch.Choose("class", page.Classes)
		if top := st.End - 1<<(page.MinExp+c); top >= page.FirstPage {
			st.Free[c] = page.FreeList{Top: top, Used: uint32(st.Gen % 3), Count: st.Gen}
		}
		st.JournalSeq = st.Gen * 1000
		r.written[st.Gen], r.last = st, st.Gen
		if err := page.Store(s, st); err != nil {
			return err
		}
		r.acked = st.Gen
	}
	return nil
}

func (r *rootState) Check(rb sim.Reboot) error {
	s, durable := rb.Storage, !rb.Damaged
	if s == nil {
		if durable && r.formatted {
			return fmt.Errorf("the file is gone after Format returned")
		}
		return nil
	}
	got, err := page.Load(s)
	if err != nil {
		if durable && r.formatted {
			return fmt.Errorf("load after Format returned: %w", err)
		}
		return nil // a format cut short, or media damage: detected, not read
	}
	want, ok := r.written[got.Gen]
	switch {
	case !ok || got.Gen > r.last:
		return fmt.Errorf("loaded generation %d, never written (last written %d)", got.Gen, r.last)
	case got != want:
		return fmt.Errorf("generation %d loaded as %+v, stored as %+v", got.Gen, got, want)
	case durable && got.Gen < r.acked:
		return fmt.Errorf("loaded generation %d, but %d was acknowledged", got.Gen, r.acked)
	}
	return nil
}
