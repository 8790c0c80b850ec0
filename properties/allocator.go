package properties

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// Allocator runs random rounds of allocating and writing pages, freeing
// some, and committing. Ownership lives in a directory page the root
// state's catalogue points to, rewritten copy-on-write each round; the
// pages a round frees (and the old directory) become free in the same
// commit that stops owning them. After a crash: the directory is the one
// of an acknowledged round or a later one; every owned page reads back as
// written; Check finds owned, free and allocator pages covering the file
// exactly, nothing leaked; and the allocator goes on working.
func Allocator() sim.Workload {
	return sim.Workload{
		Name:        "allocator",
		Description: "allocate, write, free and commit pages in rounds: after a crash owned pages read back, Check finds no leak, allocation goes on",
		New:         func() sim.Program { return &allocWorkload{} },
	}
}

type allocWorkload struct {
	// dirs holds each round's directory by the root generation that
	// stores it; acked is the generation of the last Commit returned.
	dirs  map[uint64]directory
	acked uint64
	last  uint64
}

// directory is what a round's directory page lists.
type directory struct {
	owned []ownedPage
}

// ownedPage is a page the directory owns, with the checksum it was
// written with, as every link to a page holds one (page.Ptr): a page
// holding an older write of itself is detected, not read as data.
type ownedPage struct {
	page.Ptr
	content byte
}

var dirMagic = []byte("allocator-dir")

const dirExp = 13

func (d directory) encode() []byte {
	b := append([]byte(nil), dirMagic...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(d.owned)))
	for _, o := range d.owned {
		b = binary.LittleEndian.AppendUint64(b, uint64(o.Pack()))
		b = binary.LittleEndian.AppendUint32(b, o.Sum)
		b = append(b, o.content)
	}
	return b
}

func decodeDirectory(p []byte) (directory, error) {
	var d directory
	if !bytes.HasPrefix(p, dirMagic) || len(p) < len(dirMagic)+4 {
		return d, errors.New("not a directory page")
	}
	p = p[len(dirMagic):]
	no := int(binary.LittleEndian.Uint32(p))
	p = p[4:]
	if len(p) != no*13 {
		return d, fmt.Errorf("a directory of %d owned pages in %d bytes", no, len(p))
	}
	for range no {
		r := page.Ptr{Ref: page.Unpack(int64(binary.LittleEndian.Uint64(p))), Sum: binary.LittleEndian.Uint32(p[8:])}
		d.owned = append(d.owned, ownedPage{r, p[12]})
		p = p[13:]
	}
	return d, nil
}

func (w *allocWorkload) Run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	return sim.RunResult(w.run(s, ch))
}

func (w *allocWorkload) run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	w.dirs = map[uint64]directory{1: {}}
	w.last = 1
	st, err := page.Format(s)
	if err != nil {
		return err
	}
	w.acked = st.Gen
	a := page.NewAllocator(s, st)
	var (
		owned  []ownedPage
		dirRef page.Ref
		buf    = make([]byte, 1<<dirExp)
		next   byte
	)
	write := func(r page.Ref, payload []byte) (page.Ptr, error) {
		return page.WritePtr(s, buf[:r.Bytes()], page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr, Seq: w.last + 1}, payload)
	}
	// own allocates a page of size exponent exp, writes it and owns it.
	own := func(exp uint8) error {
		r, err := a.Allocate(exp)
		if err != nil {
			return err
		}
		next++
		ptr, err := write(r, []byte{next})
		if err != nil {
			return err
		}
		owned = append(owned, ownedPage{ptr, next})
		return nil
	}
	for range 1 + ch.Choose("rounds", 6) {
		for range ch.Choose("allocations", 5) {
			if err := own(uint8(page.MinExp + ch.Choose("class", 3))); err != nil {
				return err
			}
		}
		// Now and then a bulk of small pages, more than limbo and one
		// chunk hold, allocated or freed at once.
		if ch.Choose("bulk", 4) == 3 {
			for range 80 {
				if err := own(page.MinExp); err != nil {
					return err
				}
			}
		}
		var freed []page.Ref
		if ch.Choose("bulkFree", 4) == 3 {
			kept := owned[:0]
			for _, o := range owned {
				if o.Exp == page.MinExp {
					freed = append(freed, o.Ref)
				} else {
					kept = append(kept, o)
				}
			}
			owned = kept
		}
		for range ch.Choose("frees", 4) {
			if len(owned) == 0 {
				break
			}
			i := ch.Choose("victim", len(owned))
			freed = append(freed, owned[i].Ref)
			owned = slices.Delete(owned, i, i+1)
		}
		// The new directory lists the pages still owned; those freed and
		// the old directory become free in the commit that stores it.
		newDir, err := a.Allocate(dirExp)
		if err != nil {
			return err
		}
		if dirRef.Addr != 0 {
			freed = append(freed, dirRef)
		}
		d := directory{owned: slices.Clone(owned)}
		dirPtr, err := page.WritePtr(s, buf[:newDir.Bytes()], page.Header{Exp: newDir.Exp, Type: page.TypeData, Addr: newDir.Addr, Seq: w.last + 1}, d.encode())
		if err != nil {
			return err
		}
		for _, r := range freed {
			if err := a.Free(r); err != nil {
				return err
			}
		}
		gen := w.last + 1
		w.dirs[gen], w.last = d, gen
		if err := a.Commit(func(st *page.State) { st.Catalog = dirPtr }); err != nil {
			return err
		}
		w.acked, dirRef = gen, newDir
	}
	return nil
}

func (w *allocWorkload) Check(rb sim.Reboot) error {
	err := w.check(rb)
	if rb.Damaged && !errors.Is(err, errWrongData) {
		return nil // detected damage is all a media fault promises
	}
	return err
}

var errWrongData = errors.New("wrong data")

var zeroSector [page.MinBytes]byte

func (w *allocWorkload) check(rb sim.Reboot) error {
	s := rb.Storage
	if s == nil {
		if w.acked > 0 {
			return errors.New("the file is gone after Format returned")
		}
		return nil
	}
	st, err := page.Load(s)
	if err != nil {
		if w.acked == 0 {
			return nil // the format was cut short
		}
		return fmt.Errorf("load: %w", err)
	}
	// Space no write has reached reads as no page: an all-zero page is
	// never valid, which is how the journal's read, a root slot's and a
	// link's tell a page from space never written (I6).
	if end := st.End; end+page.MinBytes <= s.Size() && bytes.Equal(s.Bytes(end, page.MinBytes), zeroSector[:]) {
		if h, _, err := page.Read(s, end); err == nil {
			return fmt.Errorf("%w: the unwritten space at %d reads as a %v page", errWrongData, end, h.Type)
		}
	}
	want, ok := w.dirs[st.Gen]
	if !ok || st.Gen > w.last {
		return fmt.Errorf("%w: root generation %d was never stored (last %d)", errWrongData, st.Gen, w.last)
	}
	if st.Gen < w.acked {
		return fmt.Errorf("root generation %d, but %d was acknowledged", st.Gen, w.acked)
	}
	var got directory
	var reachable []page.Ref
	if st.Catalog != (page.Ptr{}) {
		_, p, err := page.ReadPtr(s, st.Catalog)
		if err != nil {
			return fmt.Errorf("the directory: %w", err)
		}
		if got, err = decodeDirectory(p); err != nil {
			return fmt.Errorf("%w: the directory at %d: %v", errWrongData, st.Catalog.Addr, err)
		}
		reachable = append(reachable, st.Catalog.Ref)
	}
	if !slices.Equal(got.owned, want.owned) {
		return fmt.Errorf("%w: generation %d's directory reads %v, was written %v", errWrongData, st.Gen, got, want)
	}
	for _, o := range got.owned {
		_, p, err := page.ReadPtr(s, o.Ptr)
		if err != nil {
			return fmt.Errorf("owned page: %w", err)
		}
		if len(p) != 1 || p[0] != o.content {
			return fmt.Errorf("%w: owned page %d holds %x, was written %x", errWrongData, o.Addr, p, o.content)
		}
		reachable = append(reachable, o.Ref)
	}
	if errs := page.Check(s, st, page.Owned{Reachable: reachable}); len(errs) > 0 {
		return fmt.Errorf("after the crash: %w", errors.Join(errs...))
	}
	// The allocator goes on: a page of each class allocated and freed
	// again, committed, and still nothing leaked.
	if _, err := page.Scrub(s, st); err != nil { // as every opener does
		return err
	}
	a := page.NewAllocator(s, st)
	buf := make([]byte, 1<<(page.MinExp+2))
	for c := range 3 {
		r, err := a.Allocate(uint8(page.MinExp + c))
		if err != nil {
			return fmt.Errorf("after the crash: %w", err)
		}
		if err := page.Write(s, buf[:r.Bytes()], page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr}, nil); err != nil {
			return err
		}
		if err := a.Free(r); err != nil {
			return err
		}
	}
	if err := a.Commit(nil); err != nil {
		return fmt.Errorf("after the crash: %w", err)
	}
	if errs := page.Check(s, a.State(), page.Owned{Reachable: reachable}); len(errs) > 0 {
		return fmt.Errorf("after allocating on: %w", errors.Join(errs...))
	}
	return nil
}
