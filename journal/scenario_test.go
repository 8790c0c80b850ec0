package journal_test

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gopersy/persy/internal/scenario"
	"github.com/gopersy/persy/journal"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/page"
)

var update = flag.Bool("update", false, "rewrite the expected output of the scenario files")

// TestScenarios runs the files under testdata/scenarios (the layout is
// internal/scenario's). go test -run TestScenarios -update rewrites the
// expected output.
func TestScenarios(t *testing.T) {
	scenario.RunDir(t, filepath.Join("testdata", "scenarios"), *update, func(t *testing.T) func(string) []string {
		sc := &journalScenario{}
		return func(cmd string) []string { return sc.run(t, cmd) }
	})
}

// journalScenario is the state the commands act on: a file, and when it opens,
// its allocator and journal.
type journalScenario struct {
	s     *mmapfile.Memory
	a     *page.Allocator
	w     *journal.Writer
	owned []page.Ref
}

func fresh(t *testing.T, data []byte) *mmapfile.Memory {
	s, err := mmapfile.NewMemory(mmapfile.MemoryOptions{})
	must(t, err)
	if len(data) > 0 {
		must(t, s.Grow(int64(len(data))))
		must(t, s.WriteAt(data, 0))
	}
	return s
}

func (sc *journalScenario) run(t *testing.T, cmd string) []string {
	f := strings.Fields(cmd)
	num := func(i int) int64 {
		if i >= len(f) {
			t.Fatalf("%q: argument %d missing", cmd, i)
		}
		n, err := strconv.ParseInt(f[i], 0, 64)
		if err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		return n
	}
	errText := func(err error) []string {
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		return []string{"ok"}
	}
	switch f[0] {
	case "format":
		sc.s = fresh(t, nil)
		st, err := page.Format(sc.s)
		must(t, err)
		sc.a = page.NewAllocator(sc.s, st)
		sc.w, err = journal.Create(sc.s, sc.a, nil)
		must(t, err)
		sc.owned = nil
		return []string{"ok"}
	case "empty":
		sc.s = fresh(t, nil)
		return []string{"ok"}
	case "zeros":
		sc.s = fresh(t, make([]byte, num(1)))
		return []string{"ok"}
	case "truncate":
		sc.s = fresh(t, bytes.Clone(sc.s.Bytes(0, int(num(1)))))
		return []string{"ok"}
	case "append":
		kinds := map[string]journal.Kind{"start": journal.KindStart, "update": journal.KindUpdate, "commit": journal.KindCommit, "prepare": journal.KindPrepare}
		e := journal.Entry{Kind: kinds[f[1]], Tx: uint64(num(2))}
		if len(f) > 3 {
			e.Data = bytes.Repeat([]byte{byte(e.Tx)}, int(num(3)))
		}
		lsn, err := sc.w.Append(e)
		if err != nil {
			return errText(err)
		}
		return []string{fmt.Sprintf("lsn %d", lsn)}
	case "flush":
		return errText(sc.w.Flush())
	case "write":
		// write: the pages Flush would write, without its barrier.
		return errText(sc.w.Write())
	case "commit":
		err := sc.a.Commit(sc.w.Fill)
		if err == nil {
			sc.w.Committed()
		}
		return errText(err)
	case "alloc":
		r, err := sc.a.Allocate(uint8(num(1)))
		if err != nil {
			return errText(err)
		}
		buf := make([]byte, r.Bytes())
		must(t, page.Write(sc.s, buf, page.Header{Exp: r.Exp, Type: page.TypeData, Addr: r.Addr}, []byte("owned")))
		sc.owned = append(sc.owned, r)
		return []string{fmt.Sprintf("page %d", r.Addr)}
	case "load":
		st, err := page.Load(sc.s)
		if err != nil {
			return errText(err)
		}
		return []string{fmt.Sprintf("gen %d end %d journal head %d seq %d", st.Gen, st.End, st.JournalHead, st.JournalSeq)}
	case "read":
		st, err := page.Load(sc.s)
		if err != nil {
			return errText(err)
		}
		var out []string
		tail, err := journal.Read(sc.s, st, func(lsn uint64, e journal.Entry) error {
			out = append(out, fmt.Sprintf("lsn %d %v tx %d data %d", lsn, e.Kind, e.Tx, len(e.Data)))
			return nil
		})
		if err != nil {
			return append(out, errText(err)...)
		}
		stop := "unwritten"
		if h, _, err := page.Read(sc.s, tail.Next); err == nil {
			stop = fmt.Sprintf("a %v page of sequence %d", h.Type, h.Seq)
		} else if tail.Stopped != nil && !strings.Contains(tail.Stopped.Error(), "size exponent 0") {
			stop = tail.Stopped.Error()
		}
		out = append(out, fmt.Sprintf("%d entries; next page %d (sequence %d): %s", tail.Entries, tail.Next, tail.NextSeq, stop))
		if tail.Cut {
			out = append(out, fmt.Sprintf("an entry cut short at %d, not decoded", tail.EndLSN))
		}
		return out
	case "check":
		st, err := page.Load(sc.s)
		if err != nil {
			return errText(err)
		}
		tail, err := journal.Read(sc.s, st, func(uint64, journal.Entry) error { return nil })
		if err != nil {
			return errText(err)
		}
		o := tail.Owned(st)
		o.Reachable = append(o.Reachable, sc.owned...)
		var out []string
		for _, err := range page.Check(sc.s, st, o) {
			out = append(out, "violation: "+err.Error())
		}
		if len(out) == 0 {
			out = []string{"ok"}
		}
		return out
	case "journal-page":
		// journal-page I: the address of the I-th journal page read,
		// from the end if negative.
		return []string{fmt.Sprintf("page %d", sc.journalPage(t, int(num(1))))}
	case "tear-journal", "flip-journal":
		// The same as tear and flip, on the I-th journal page.
		addr := sc.journalPage(t, int(num(1)))
		return sc.run(t, fmt.Sprintf("%s %d %s", strings.TrimSuffix(f[0], "-journal"), addr, f[2]))
	case "flip":
		// flip ADDR OFF: one byte changed, as a media fault would.
		addr, off := num(1), num(2)
		b := sc.s.Bytes(addr+off, 1)[0]
		must(t, sc.s.WriteAt([]byte{b ^ 0x5a}, addr+off))
		return []string{"ok"}
	case "tear":
		// tear ADDR FROM: the page's sectors from FROM on read as zeros,
		// as a write cut by a crash leaves them.
		addr, from := num(1), num(2)
		h, _, err := page.Read(sc.s, addr)
		must(t, err)
		must(t, sc.s.WriteAt(make([]byte, int64(h.Bytes())-from), addr+from))
		return []string{"ok"}
	case "misdirect":
		// misdirect FROM TO: the OS page at FROM written raw at TO, as a
		// misdirected write leaves it.
		from, to := num(1), num(2)
		must(t, sc.s.WriteAt(bytes.Clone(sc.s.Bytes(from, mmapfile.PageBytes)), to))
		return []string{"ok"}
	case "copy-page":
		// copy-page FROM TO: the page at FROM written whole at TO,
		// re-addressed: a stale page where another belongs.
		from, to := num(1), num(2)
		h, p, err := page.Read(sc.s, from)
		must(t, err)
		buf := make([]byte, h.Bytes())
		h.Addr = to
		must(t, page.Write(sc.s, buf, h, bytes.Clone(p)))
		return []string{"ok"}
	case "set-free-top":
		// set-free-top EXP ADDR: a root state whose free list of class
		// EXP starts at ADDR, expecting the page there as it is.
		st, err := page.Load(sc.s)
		must(t, err)
		st.Gen++
		sum := binary.LittleEndian.Uint32(sc.s.Bytes(num(2), 4))
		st.Free[num(1)-page.MinExp] = page.FreeList{Top: num(2), TopSum: sum, Count: 1}
		return errText(page.Store(sc.s, st))
	}
	t.Fatalf("unknown command %q", cmd)
	return nil
}

func (sc *journalScenario) journalPage(t *testing.T, i int) int64 {
	st, err := page.Load(sc.s)
	must(t, err)
	tail, err := journal.Read(sc.s, st, func(uint64, journal.Entry) error { return nil })
	must(t, err)
	r := tail.Owned(st).Reachable
	if i < 0 {
		i += len(r)
	}
	if i < 0 || i >= len(r) {
		t.Fatalf("no journal page %d of %d", i, len(r))
	}
	return r[i].Addr
}
