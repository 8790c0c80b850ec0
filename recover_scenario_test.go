package persy_test

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/internal/scenario"
	"github.com/gopersy/persy/sim/diskmodel"
)

var update = flag.Bool("update", false, "rewrite the expected output of the scenario files")

// TestRecoveryScenarios runs the files under testdata/recovery: a
// database on a simulated disk, transactions, crashes that lose or keep
// what was not synced, and recovery with the caller's decisions (the
// commands are recoveryScenario.run's). go test -run
// TestRecoveryScenarios -update rewrites the expected output.
func TestRecoveryScenarios(t *testing.T) {
	scenario.RunDir(t, filepath.Join("testdata", "recovery"), *update, func(t *testing.T) func(string) []string {
		sc := newRecoveryScenario()
		return func(cmd string) []string { return sc.run(t, cmd) }
	})
}

// recoveryScenario is the state the commands act on: one simulated
// disk, the database or recovery open on it, the transactions begun and
// the records inserted, by the names the file gives them.
type recoveryScenario struct {
	disk     *diskmodel.Disk
	crashAt  int64 // the yield to crash at; -1 for none
	yields   int64 // yields since the disk was made
	db       *persy.DB
	rec      *persy.Recovery
	txs      map[string]*persy.Tx
	prepared map[string]*persy.Prepared
	recs     map[string]persy.RecordID
}

func newRecoveryScenario() *recoveryScenario {
	sc := &recoveryScenario{crashAt: -1, recs: map[string]persy.RecordID{}}
	sc.disk = diskmodel.New(sc.diskOptions())
	sc.forget()
	return sc
}

func (sc *recoveryScenario) diskOptions() diskmodel.Options {
	return diskmodel.Options{Yield: func(_ *diskmodel.Disk, op diskmodel.Op) error {
		n := sc.yields
		sc.yields++
		if n == sc.crashAt {
			return diskmodel.ErrCrashed
		}
		return nil
	}}
}

// forget drops every handle of the process that lost power.
func (sc *recoveryScenario) forget() {
	sc.db, sc.rec = nil, nil
	sc.txs, sc.prepared = map[string]*persy.Tx{}, map[string]*persy.Prepared{}
}

var (
	// keptUnsynced is the crash image in which every write reached the
	// disk whole; lostUnsynced (crash_test.go) the one in which none past
	// its barrier did.
	keptUnsynced = diskmodel.Func(func(_ string, n int) int { return n - 1 })
	opts         = persy.Options{ManualSync: true, LockTimeout: -1}
)

// result is what a command that changes something prints: nothing, or
// its error.
func result(err error) []string {
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return nil
}

// run runs one command:
//
//	open                        OpenStorage (formats an empty disk)
//	recover                     Recover: each transaction found, with its status
//	decide ID commit|rollback   a decision of the open recovery
//	finish | give-up            Recovery.Finish | Recovery.Close
//	create-segment SEG          in a transaction of its own
//	begin TX [ID]               TX names the transaction here; ID is its id (none by default)
//	insert TX SEG REC VALUE     REC names the record here
//	update TX SEG REC VALUE
//	delete TX SEG REC
//	prepare TX | commit TX | rollback TX   commit and rollback decide a prepared TX
//	read SEG                    the committed records, in id order, by name
//	checkpoint | sync | check | close
//	crash-after N               the disk's Nth yield from now crashes the machine
//	crash lost|kept             the power goes: every write since its
//	                            barrier lost, or every one kept; the machine boots on what is left
func (sc *recoveryScenario) run(t *testing.T, cmd string) []string {
	f := strings.Fields(cmd)
	arg := func(i int) string {
		if i >= len(f) {
			t.Fatalf("%q: argument %d missing", cmd, i)
		}
		return f[i]
	}
	tx := func() *persy.Tx {
		x, ok := sc.txs[arg(1)]
		if !ok {
			t.Fatalf("%q: no transaction %s", cmd, arg(1))
		}
		return x
	}
	needRec := func() {
		if sc.rec == nil {
			t.Fatalf("%q: no recovery open", cmd)
		}
	}
	needDB := func() {
		if sc.db == nil {
			t.Fatalf("%q: no database open", cmd)
		}
	}
	switch f[0] {
	case "open":
		if sc.db != nil || sc.rec != nil {
			t.Fatalf("%q: the disk is open already", cmd)
		}
		db, err := persy.OpenStorage(sc.disk, opts)
		sc.db = db
		return result(err)
	case "recover":
		if sc.db != nil || sc.rec != nil {
			t.Fatalf("%q: the disk is open already", cmd)
		}
		rec, err := persy.Recover(sc.disk, opts)
		if err != nil {
			return result(err)
		}
		sc.rec = rec
		var out []string
		for _, x := range rec.Transactions() {
			out = append(out, fmt.Sprintf("%q %v", x.ID, x.Status))
		}
		if len(out) == 0 {
			out = []string{"no transactions"}
		}
		return out
	case "decide":
		needRec()
		switch arg(2) {
		case "commit":
			return result(sc.rec.Commit([]byte(arg(1))))
		case "rollback":
			return result(sc.rec.Rollback([]byte(arg(1))))
		}
		t.Fatalf("%q: decide commit or rollback", cmd)
	case "finish":
		needRec()
		db, err := sc.rec.Finish()
		sc.db, sc.rec = db, nil
		return result(err)
	case "give-up":
		needRec()
		err := sc.rec.Close()
		sc.rec = nil
		return result(err)
	case "create-segment":
		needDB()
		return result(sc.db.Update(func(tx *persy.Tx) error { return tx.CreateSegment(arg(1)) }))
	case "begin":
		needDB()
		o := persy.TxOptions{}
		if len(f) > 2 {
			o.ID = []byte(f[2])
		}
		x, err := sc.db.Begin(o)
		if err == nil {
			sc.txs[arg(1)] = x
		}
		return result(err)
	case "insert":
		id, err := tx().Insert(arg(2), []byte(arg(4)))
		if err == nil {
			// A slot freed by a delete is reused: the id names the newest
			// record, and read must not pick a name by map order.
			for name, old := range sc.recs {
				if old == id {
					delete(sc.recs, name)
				}
			}
			sc.recs[arg(3)] = id
		}
		return result(err)
	case "update":
		return result(tx().Update(arg(2), sc.recs[arg(3)], []byte(arg(4))))
	case "delete":
		return result(tx().Delete(arg(2), sc.recs[arg(3)]))
	case "prepare":
		p, err := tx().Prepare()
		if err == nil {
			sc.prepared[arg(1)] = p
		}
		return result(err)
	case "commit", "rollback":
		if p, ok := sc.prepared[arg(1)]; ok {
			delete(sc.prepared, arg(1))
			if f[0] == "commit" {
				return result(p.Commit())
			}
			return result(p.Rollback())
		}
		if f[0] == "commit" {
			return result(tx().Commit())
		}
		return result(tx().Rollback())
	case "read":
		needDB()
		names := map[persy.RecordID]string{}
		for name, id := range sc.recs {
			names[id] = name
		}
		var out []string
		err := sc.db.View(func(s *persy.Snapshot) error {
			if ok, err := s.SegmentExists(arg(1)); err != nil || !ok {
				out = append(out, "no segment "+arg(1))
				return err
			}
			for r, err := range s.Scan(arg(1)) {
				if err != nil {
					return err
				}
				name, ok := names[r.ID]
				if !ok {
					name = "record " + r.ID.String()
				}
				out = append(out, fmt.Sprintf("%s %s", name, r.Data))
			}
			return nil
		})
		if err != nil {
			return result(err)
		}
		if len(out) == 0 {
			out = []string{"empty"}
		}
		return out
	case "checkpoint":
		needDB()
		return result(sc.db.Checkpoint())
	case "sync":
		needDB()
		return result(sc.db.Sync())
	case "check":
		needDB()
		return result(sc.db.Check())
	case "close":
		needDB()
		err := sc.db.Close()
		sc.forget()
		return result(err)
	case "crash-after":
		n, err := strconv.ParseInt(arg(1), 10, 64)
		if err != nil || n < 0 {
			t.Fatalf("%q: want a count", cmd)
		}
		sc.crashAt = sc.yields + n
		return nil
	case "crash":
		policy := map[string]diskmodel.Chooser{"lost": lostUnsynced, "kept": keptUnsynced}[arg(1)]
		if policy == nil {
			t.Fatalf("%q: crash lost or kept", cmd)
		}
		img, err := sc.disk.CrashImage(policy, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		if sc.disk.Crashed() {
			out = append(out, "the machine had crashed")
		}
		sc.crashAt, sc.yields = -1, 0
		d, err := diskmodel.FromImage(img, sc.diskOptions())
		if err != nil {
			t.Fatal(err)
		}
		sc.disk = d
		sc.forget()
		if !img.Exists {
			out = append(out, "no file")
		}
		return out
	}
	t.Fatalf("unknown command %q", cmd)
	return nil
}
