package properties

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// Journal appends entries of random sizes (many spanning pages), flushes,
// trims the head at random entries and commits, in rounds. After a crash
// the journal reads back exactly a run of the entries appended, each as
// written, including every flushed entry at or after the last durable
// trim; no torn entry is decoded; Check accounts for every page; and a
// writer resumed where the read stopped appends after the valid prefix.
func Journal() sim.Workload {
	return sim.Workload{
		Name:        "journal",
		Description: "append, flush, trim and commit the journal: after a crash it reads back a prefix holding every flushed entry, Check passes, appending resumes",
		// A run takes a tenth of a second. Its sweeps of single pages
		// are where a torn page meets the write that reuses it torn
		// the other way (resumeTornAgain), and on media where the
		// device drops the scrub between them too: one run in fifty
		// or so meets that, so the sweep rows get most of the share,
		// media's the most.
		RowShare: func(profile, strategy string) int {
			switch {
			case strategy != sim.Sweep.String():
				return 1
			case profile == diskmodel.Media.Name:
				return 40
			}
			return 6
		},
		New: func() sim.Program { return &journalWorkload{} },
	}
}

type journalWorkload struct {
	formatted bool
	created   bool     // journal.Create returned
	log       []logged // every entry appended, in order
	flushed   int      // log[:flushed] were flushed
	// trims holds each trim by the root generation that stores it: a root
	// state of generation g keeps the entries from the LSN of the last
	// trim at or before g.
	trims    []trim
	ackedGen uint64 // the root generation last known durable
	// bufs are the buffers resumeTornAgain copies and tears images in,
	// reused from one crash state to the next.
	bufs [3][]byte
}

type trim struct {
	gen uint64
	lsn uint64
}

// keptFrom is the LSN from which a root state of generation gen keeps the
// journal.
func (w *journalWorkload) keptFrom(gen uint64) uint64 {
	var lsn uint64
	for _, t := range w.trims {
		if t.gen <= gen {
			lsn = max(lsn, t.lsn)
		}
	}
	return lsn
}

type logged struct {
	lsn uint64
	e   journal.Entry
}

func (w *journalWorkload) Run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	return sim.RunResult(w.run(s, ch))
}

// entryData is the deterministic content of the i-th entry.
func entryData(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*31 + j)
	}
	return b
}

func (w *journalWorkload) run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	st, err := page.Format(s)
	if err != nil {
		return err
	}
	w.formatted = true
	a := page.NewAllocator(s, st)
	jw, err := journal.Create(s, a, nil)
	if err != nil {
		return err
	}
	w.created = true
	for range 1 + ch.Choose("rounds", 8) {
		for range ch.Choose("entries", 5) {
			i := len(w.log)
			e := journal.Entry{Kind: journal.KindStart, Tx: uint64(i)}
			if n := ch.Choose("size", 4); n > 0 {
				e = journal.Entry{Kind: journal.KindUpdate, Tx: uint64(i), A: uint64(n), Data: entryData(i, []int{0, 10, 2800, 10000}[n])}
			}
			lsn, err := jw.Append(e)
			if err != nil {
				return err
			}
			w.log = append(w.log, logged{lsn, e})
		}
		if err := jw.Flush(); err != nil {
			return err
		}
		w.flushed = len(w.log)
		if ch.Choose("trim", 2) == 1 && w.flushed > 0 {
			k := ch.Choose("keep", w.flushed+1)
			lsn := jw.End()
			if k < w.flushed {
				lsn = w.log[k].lsn
			}
			if err := jw.Trim(lsn); err != nil {
				return err
			}
			w.trims = append(w.trims, trim{a.State().Gen + 1, lsn})
			if err := a.Commit(jw.Fill); err != nil {
				return err
			}
			jw.Committed()
		}
		w.ackedGen = a.State().Gen
	}
	return nil
}

func (w *journalWorkload) Check(rb sim.Reboot) error {
	err := w.check(rb)
	if rb.Damaged && !errors.Is(err, errWrongData) {
		return nil
	}
	return err
}

func (w *journalWorkload) check(rb sim.Reboot) error {
	s := rb.Storage
	if s == nil {
		if w.formatted {
			return errors.New("the file is gone after Format returned")
		}
		return nil
	}
	st, err := page.Load(s)
	if err != nil {
		if !w.formatted {
			return nil
		}
		return fmt.Errorf("load: %w", err)
	}
	byLSN := map[uint64]int{}
	for i, l := range w.log {
		byLSN[l.lsn] = i
	}
	got, tail, err := w.read(s, st, byLSN)
	if err != nil {
		return err
	}
	if st.Gen < w.ackedGen {
		return fmt.Errorf("root generation %d, but %d was durable", st.Gen, w.ackedGen)
	}
	// Every flushed entry the root state's last trim kept is there.
	present := map[int]bool{}
	for _, i := range got {
		present[i] = true
	}
	kept := w.keptFrom(st.Gen)
	for i := range w.flushed {
		if w.log[i].lsn >= kept && !present[i] {
			return fmt.Errorf("flushed entry %d at LSN %d is lost (read %d entries, journal stopped: %v)", i, w.log[i].lsn, len(got), tail.Stopped)
		}
	}
	if errs := page.Check(s, st, tail.Owned(st)); len(errs) > 0 {
		return fmt.Errorf("after the crash: %w", errors.Join(errs...))
	}
	if st.JournalHead == 0 {
		if w.created {
			return errors.New("the journal is gone after journal.Create returned")
		}
		return nil
	}
	if d, ok := s.(*diskmodel.Disk); ok && !rb.Damaged {
		if err := w.resumeTornAgain(d, tail, byLSN); err != nil {
			return err
		}
	}
	// Resume: an entry appended now, spanning two or three pages, follows
	// what was read. It is shorter than the longest entry the run
	// appends, so an entry a crash cut can reach past its end.
	if _, err := page.Scrub(s, st); err != nil { // as every opener does
		return err
	}
	a := page.NewAllocator(s, st)
	jw, err := journal.Open(s, a, st, tail, nil)
	if err != nil {
		return err
	}
	next := journal.Entry{Kind: journal.KindUpdate, Tx: 1 << 40, Data: entryData(1<<20, 6000)}
	if _, err := jw.Append(next); err != nil {
		return err
	}
	if err := jw.Flush(); err != nil {
		return fmt.Errorf("resumed flush: %w", err)
	}
	if err := a.Commit(jw.Fill); err != nil {
		return fmt.Errorf("resumed commit: %w", err)
	}
	jw.Committed()
	st, err = page.Load(s)
	if err != nil {
		return err
	}
	var again []journal.Entry
	tail2, err := journal.Read(s, st, func(_ uint64, e journal.Entry) error {
		again = append(again, journal.Entry{Kind: e.Kind, Tx: e.Tx, Data: bytes.Clone(e.Data)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("read after resuming: %w", err)
	}
	if len(again) != len(got)+1 || again[len(again)-1].Tx != next.Tx || !bytes.Equal(again[len(again)-1].Data, next.Data) {
		return fmt.Errorf("after resuming read %d entries, want the %d read before and the one appended (stopped: %v)", len(again), len(got), tail2.Stopped)
	}
	if errs := page.Check(s, st, tail2.Owned(st)); len(errs) > 0 {
		return fmt.Errorf("after resuming: %w", errors.Join(errs...))
	}
	// A process that starts now reads past where the writer resumed: an
	// entry the crash cut short is in the middle of the journal, and
	// the pages holding its bytes hold nothing past it. A trim at the
	// appended entry, as a checkpoint of everything before it makes,
	// keeps that entry alone.
	a = page.NewAllocator(s, st)
	if jw, err = journal.Open(s, a, st, tail2, nil); err != nil {
		return fmt.Errorf("reopening the resumed journal: %w", err)
	}
	if err := jw.Trim(tail.EndLSN); err != nil {
		return err
	}
	if err := a.Commit(jw.Fill); err != nil {
		return fmt.Errorf("commit after a trim at the resumed entry: %w", err)
	}
	jw.Committed()
	if st, err = page.Load(s); err != nil {
		return err
	}
	var left []journal.Entry
	if _, err := journal.Read(s, st, func(_ uint64, e journal.Entry) error {
		left = append(left, e)
		return nil
	}); err != nil || len(left) != 1 || left[0].Tx != next.Tx {
		return fmt.Errorf("after a trim at the resumed entry (LSN %d): %d entries, %v; want that entry alone", tail.EndLSN, len(left), err)
	}
	// Trim it all, as a checkpoint does: what was read, the entry a crash
	// may have cut, the entry appended. The journal reads empty.
	if err := jw.Trim(jw.End()); err != nil {
		return err
	}
	if err := a.Commit(jw.Fill); err != nil {
		return fmt.Errorf("commit after the trim: %w", err)
	}
	jw.Committed()
	if st, err = page.Load(s); err != nil {
		return err
	}
	n := 0
	tail3, err := journal.Read(s, st, func(uint64, journal.Entry) error { n++; return nil })
	if err != nil || n > 0 {
		return fmt.Errorf("after trimming the resumed journal to its end: %d entries, %v", n, err)
	}
	if errs := page.Check(s, st, tail3.Owned(st)); len(errs) > 0 {
		return fmt.Errorf("after the trim: %w", errors.Join(errs...))
	}
	return nil
}

// read reads the journal and checks each entry is one appended, as
// written, and that they come in order without a gap; it returns their
// indexes in the log.
func (w *journalWorkload) read(s mmapfile.Storage, st page.State, byLSN map[uint64]int) ([]int, journal.Tail, error) {
	var got []int
	tail, err := journal.Read(s, st, func(lsn uint64, e journal.Entry) error {
		i, ok := byLSN[lsn]
		if !ok {
			return fmt.Errorf("%w: an entry at LSN %d, where none was appended", errWrongData, lsn)
		}
		want := w.log[i].e
		if e.Kind != want.Kind || e.Tx != want.Tx || e.A != want.A || !bytes.Equal(e.Data, want.Data) {
			return fmt.Errorf("%w: entry %d at LSN %d reads %v/%d/%d bytes, was %v/%d/%d bytes", errWrongData, i, lsn, e.Kind, e.Tx, len(e.Data), want.Kind, want.Tx, len(want.Data))
		}
		if len(got) > 0 && i != got[len(got)-1]+1 {
			return fmt.Errorf("%w: entry %d follows entry %d", errWrongData, i, got[len(got)-1])
		}
		got = append(got, i)
		return nil
	})
	if err != nil {
		return nil, tail, fmt.Errorf("read: %w", err)
	}
	return got, tail, nil
}

// resumeTornAgain resumes the journal on a copy of the crash image, as
// an opener does, writes one small entry where the read stopped, and
// cuts the power before its barrier, tearing every page written since
// the other way from the first crash: the first sector as it was, the
// rest new; on a media profile, the device also drops the write that
// scrubbed the page the read stopped at. A small payload leaves the
// sectors past the first zero in both writes, so an old page the first
// crash tore there, its first sector new, would be completed into a
// valid page by such a tear if nothing kept it from validating (the
// scrub, the stamps), and its entries, discarded by the read that
// resumed the journal, would come back. The journal read after this
// second crash holds the entries read before, and past them at most the
// small entry, whole.
func (w *journalWorkload) resumeTornAgain(d *diskmodel.Disk, tail journal.Tail, byLSN map[uint64]int) error {
	profile := d.Profile()
	w.bufs[0] = append(w.bufs[0][:0], d.Bytes(0, int(d.Size()))...)
	img := &diskmodel.Image{Exists: true, Data: w.bufs[0]}
	d2, err := diskmodel.FromImage(img, diskmodel.Options{Profile: profile, Buffer: w.bufs[1]})
	if err != nil {
		return err
	}
	st, err := page.Load(d2)
	if err != nil {
		return err
	}
	if _, err := page.Scrub(d2, st); err != nil {
		return err
	}
	a := page.NewAllocator(d2, st)
	jw, err := journal.Open(d2, a, st, tail, nil)
	if err != nil {
		return err
	}
	small := journal.Entry{Kind: journal.KindStart, Tx: 1 << 41}
	lsn, err := jw.Append(small)
	if err != nil {
		return err
	}
	if err := jw.Write(); err != nil {
		return err
	}
	d3, err := w.crashAgain(d2, slices.Index(d2.Stale(), tail.Next))
	if err != nil {
		return err
	}
	if cap(w.bufs[1]) < int(d2.Size()) {
		w.bufs[1] = make([]byte, 0, roundUpPage(d2.Size()))
	}
	st, err = page.Load(d3)
	if err != nil {
		return fmt.Errorf("a second crash, in the resumed journal's first write: load: %w", err)
	}
	var bad error
	before := 0
	_, err = journal.Read(d3, st, func(at uint64, e journal.Entry) error {
		if at >= tail.EndLSN {
			if at != lsn || e.Kind != small.Kind || e.Tx != small.Tx {
				bad = fmt.Errorf("%w: a second crash, in the resumed journal's first write, brings back an entry at LSN %d, past %d where the journal resumed: %v of transaction %d, which the resumed read discarded", errWrongData, at, tail.EndLSN, e.Kind, e.Tx)
				return bad
			}
			return nil
		}
		before++
		i, ok := byLSN[at]
		if !ok || w.log[i].e.Kind != e.Kind || w.log[i].e.Tx != e.Tx || !bytes.Equal(w.log[i].e.Data, e.Data) {
			bad = fmt.Errorf("%w: a second crash, in the resumed journal's first write: the entry at LSN %d is not the one appended there", errWrongData, at)
			return bad
		}
		return nil
	})
	if bad != nil {
		return bad
	}
	if err != nil {
		return fmt.Errorf("a second crash, in the resumed journal's first write: %w", err)
	}
	if before != tail.Entries {
		return fmt.Errorf("a second crash, in the resumed journal's first write: %d entries before LSN %d, where the read before it found %d", before, tail.EndLSN, tail.Entries)
	}
	if !profile.Media {
		return nil
	}
	// Then the writer makes its entry durable and trims the journal to
	// nothing, as a checkpoint does: the head becomes the page the next
	// one goes to, a spare the resumed writer scrubbed if it claimed a
	// sequence number it would write. A crash now, with the device
	// dropping that scrub, leaves there what the writer before the
	// first crash left: a page of the very sequence number, whole if
	// the first crash kept it. It must not read as the head.
	if err := jw.Flush(); err != nil {
		return err
	}
	if err := jw.Trim(jw.End()); err != nil {
		return err
	}
	if err := a.Commit(jw.Fill); err != nil {
		return err
	}
	jw.Committed()
	head := a.State().JournalHead
	lost := slices.Index(d2.Stale(), head)
	if lost < 0 {
		return nil
	}
	d4, err := w.crashAgain(d2, lost)
	if err != nil {
		return err
	}
	if st, err = page.Load(d4); err != nil {
		return fmt.Errorf("a crash after the resumed journal was trimmed to nothing: load: %w", err)
	}
	n := 0
	_, err = journal.Read(d4, st, func(at uint64, e journal.Entry) error {
		n++
		return fmt.Errorf("%w: a crash after the resumed journal was trimmed to nothing, its head's scrub dropped, reads an entry at LSN %d, %v of transaction %d, from the page at %d", errWrongData, at, e.Kind, e.Tx, head)
	})
	if n > 0 {
		return err
	}
	return nil
}

// crashAgain takes the image of a crash of d, into a buffer kept for
// the next, and boots a frozen disk on it for reading. Every page with
// unsynced writes is torn with its first sector as it was and the rest
// new; where lost is not -1, the page Disk.Stale lists at lost also
// loses the write of its last barrier (the profile must have media
// faults).
func (w *journalWorkload) crashAgain(d *diskmodel.Disk, lost int) (*diskmodel.Disk, error) {
	garbage := d.Profile().GarbageTorn
	unit := 0
	ch := diskmodel.Func(func(label string, n int) int {
		switch label {
		case diskmodel.LabelCreated, diskmodel.LabelSize:
			return n - 1
		case diskmodel.LabelPage:
			unit = 0
			return diskmodel.PageMixed
		case diskmodel.LabelUnit:
			unit++
			switch {
			case unit == 1:
				return 0 // the first sector of a page: as it was
			case garbage:
				return n - 2 // the newest, garbage being the last choice
			}
			return n - 1
		case diskmodel.LabelLostWrite:
			if lost >= 0 {
				return 1
			}
		case diskmodel.LabelLostPage:
			return lost
		}
		return 0
	})
	cut, err := d.CrashImage(ch, w.bufs[2])
	if err != nil {
		return nil, err
	}
	w.bufs[2] = cut.Data
	return diskmodel.FromImage(cut, diskmodel.Options{Profile: d.Profile(), Frozen: true})
}

func roundUpPage(n int64) int64 {
	return (n + mmapfile.PageBytes - 1) / mmapfile.PageBytes * mmapfile.PageBytes
}
