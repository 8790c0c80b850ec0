package persy_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopersy/persy"
)

// The bank test: workers move money between a few accounts in
// transactions of every kind (one-phase, two-phase committed or rolled
// back) while others read every account, through snapshots and through
// read-only VersionOnRead transactions. Money is conserved by every
// transfer, so every consistent read sums to the same total.
//
// Each account record holds its balance and how many transfers wrote it:
// the write count is the record's version as the test sees it, so every
// read names exactly the write it saw. The history is then checked for
// strict serializability, not only for the conserved sum: the committed
// transfers of each account form one chain of versions (no lost update,
// no write from nowhere), every read sees a prefix of that history that
// no transfer straddles, and one serial order exists that agrees with
// every read and with real time (an operation that returned before
// another began comes first).
const (
	bankSegment      = "accounts"
	bankAccounts     = 8
	bankInitial      = 100
	bankWorkers      = 8
	bankOpsPerWorker = 150
	bankMaxAttempts  = 3 // tries of a transfer or audit that aborts on a conflict
	bankSeed         = 0x5eed_ba4c
)

// account is the content of an account record: balance, then the number
// of committed transfers that wrote it, both 8 bytes little-endian.
type account struct {
	balance int64
	writes  uint64
}

func (a account) encode() []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(a.balance))
	return binary.LittleEndian.AppendUint64(b, a.writes)
}

func decodeAccount(b []byte) (account, error) {
	if len(b) != 16 {
		return account{}, fmt.Errorf("account record of %d bytes, want 16", len(b))
	}
	return account{int64(binary.LittleEndian.Uint64(b)), binary.LittleEndian.Uint64(b[8:])}, nil
}

type bankState [bankAccounts]account

func (s *bankState) sum() int64 {
	var n int64
	for _, a := range s {
		n += a.balance
	}
	return n
}

func initialBank() bankState {
	var s bankState
	for i := range s {
		s[i].balance = bankInitial
	}
	return s
}

// transfer is a committed transfer: what it read of both accounts, and
// the logical times of its invocation and of its commit's return.
type transfer struct {
	worker, op int
	from, to   int
	amount     int64
	read       [2]account // of from and to
	twoPhase   bool
	inv, ret   int64
}

// wrote returns what the transfer wrote to the k-th of its accounts.
func (t *transfer) wrote(k int) account {
	a := t.read[k]
	if k == 0 {
		a.balance -= t.amount
	} else {
		a.balance += t.amount
	}
	a.writes++
	return a
}

func (t *transfer) String() string {
	kind := "one-phase"
	if t.twoPhase {
		kind = "two-phase"
	}
	return fmt.Sprintf("worker %d op %d: %s transfer of %d from account %d %+v to account %d %+v [%d, %d]",
		t.worker, t.op, kind, t.amount, t.from, t.read[0], t.to, t.read[1], t.inv, t.ret)
}

// observation is a consistent read of every account: a snapshot or a
// read-only VersionOnRead transaction that committed.
type observation struct {
	worker, op int
	kind       string
	state      bankState
	inv, ret   int64
}

func (o *observation) String() string {
	return fmt.Sprintf("worker %d op %d: %s saw %+v [%d, %d]", o.worker, o.op, o.kind, o.state, o.inv, o.ret)
}

type bankStats struct {
	committed, twoPhase, aborted, rejected, rolledBack int
	snapshots, audits, auditAborts                     int
	timeouts                                           int // aborts of either kind by ErrTimeout
}

func (s *bankStats) add(o bankStats) {
	s.committed += o.committed
	s.twoPhase += o.twoPhase
	s.aborted += o.aborted
	s.rejected += o.rejected
	s.rolledBack += o.rolledBack
	s.snapshots += o.snapshots
	s.audits += o.audits
	s.auditAborts += o.auditAborts
	s.timeouts += o.timeouts
}

// bankWorker is one goroutine of the test. It never calls t's failing
// methods: it collects its errors for the test goroutine.
type bankWorker struct {
	db    *persy.DB
	ids   [bankAccounts]persy.RecordID
	id    int
	op    int
	rng   *rand.Rand
	clock *atomic.Int64

	transfers    []transfer
	observations []observation
	stats        bankStats
	errs         []error

	// held is a snapshot kept open across later operations, and what
	// it read first: it must read the same until closed.
	held      *persy.Snapshot
	heldState bankState
}

func (w *bankWorker) fail(format string, args ...any) {
	w.errs = append(w.errs, fmt.Errorf("worker %d op %d: %s", w.id, w.op, fmt.Sprintf(format, args...)))
}

// abort reports whether err is an acceptable end of a transaction: a
// conflict or a lock wait that timed out.
func abort(err error) bool {
	return errors.Is(err, persy.ErrVersionNotLatest) || errors.Is(err, persy.ErrTimeout)
}

// countAbort counts an acceptable abort by its cause.
func (w *bankWorker) countAbort(err error) {
	if errors.Is(err, persy.ErrTimeout) {
		w.stats.timeouts++
	}
}

func (w *bankWorker) run(ops int) {
	for w.op = range ops {
		if len(w.errs) > 0 {
			break
		}
		switch k := w.rng.IntN(20); {
		case k < 4:
			w.snapshot()
		case k < 6:
			for range bankMaxAttempts {
				if !w.audit() {
					break
				}
			}
		default:
			from := w.rng.IntN(bankAccounts)
			to := w.rng.IntN(bankAccounts - 1)
			if to >= from {
				to++
			}
			amount := int64(1 + w.rng.IntN(50))
			twoPhase := k >= 13
			rollback := twoPhase && w.rng.IntN(5) == 0
			for range bankMaxAttempts {
				if !w.transfer(from, to, amount, twoPhase, rollback) {
					break
				}
			}
		}
	}
	if w.held != nil {
		w.recheckHeld()
	}
}

// transfer runs one attempt of a transfer and reports whether it aborted
// on a conflict, to be tried again.
func (w *bankWorker) transfer(from, to int, amount int64, twoPhase, rollback bool) (aborted bool) {
	strategy := persy.VersionOnWrite
	opts := persy.TxOptions{Strategy: strategy}
	if twoPhase {
		opts.ID = fmt.Appendf(nil, "w%d-%d", w.id, w.op)
	}
	t := transfer{worker: w.id, op: w.op, from: from, to: to, amount: amount, twoPhase: twoPhase}
	t.inv = w.clock.Add(1)
	tx, err := w.db.Begin(opts)
	if err != nil {
		w.fail("begin: %v", err)
		return false
	}
	for k, a := range [2]int{from, to} {
		b, err := tx.Read(bankSegment, w.ids[a])
		if err == nil {
			t.read[k], err = decodeAccount(b)
		}
		if err != nil {
			w.fail("read account %d: %v", a, err)
			tx.Rollback()
			return false
		}
	}
	if t.read[0].balance < amount {
		// Not enough money: the transfer is refused, never overdrawn.
		w.stats.rejected++
		if err := tx.Rollback(); err != nil {
			w.fail("rollback: %v", err)
		}
		return false
	}
	for k, a := range [2]int{from, to} {
		if err := tx.Update(bankSegment, w.ids[a], t.wrote(k).encode()); err != nil {
			w.fail("update account %d: %v", a, err)
			tx.Rollback()
			return false
		}
	}
	if !twoPhase {
		err := tx.Commit()
		t.ret = w.clock.Add(1)
		switch {
		case err == nil:
			w.stats.committed++
			w.transfers = append(w.transfers, t)
		case abort(err):
			w.stats.aborted++
			w.countAbort(err)
			return true
		default:
			w.fail("commit: %v", err)
		}
		return false
	}
	p, err := tx.Prepare()
	if err != nil {
		if abort(err) {
			w.stats.aborted++
			w.countAbort(err)
			return true
		}
		w.fail("prepare: %v", err)
		return false
	}
	if rollback {
		if err := p.Rollback(); err != nil {
			w.fail("rollback of a prepared transfer: %v", err)
		}
		w.stats.rolledBack++
		return false
	}
	// A prepared transaction holds its locks: its commit cannot conflict.
	err = p.Commit()
	t.ret = w.clock.Add(1)
	if err != nil {
		w.fail("commit of a prepared transfer: %v", err)
		return false
	}
	w.stats.committed++
	w.stats.twoPhase++
	w.transfers = append(w.transfers, t)
	return false
}

// readAll reads every account through read, or through scan if it is not
// nil.
func (w *bankWorker) readAll(read func(persy.RecordID) ([]byte, error), scan func(string) iter.Seq2[persy.Record, error]) (bankState, error) {
	var s bankState
	if scan == nil {
		for i, id := range w.ids {
			b, err := read(id)
			if err == nil {
				s[i], err = decodeAccount(b)
			}
			if err != nil {
				return s, fmt.Errorf("account %d: %w", i, err)
			}
		}
		return s, nil
	}
	n := 0
	for r, err := range scan(bankSegment) {
		if err != nil {
			return s, fmt.Errorf("scan: %w", err)
		}
		if n >= bankAccounts || r.ID != w.ids[n] {
			return s, fmt.Errorf("scan: record %d is %v, want %v (ids %v)", n, r.ID, w.ids[min(n, bankAccounts-1)], w.ids)
		}
		if s[n], err = decodeAccount(r.Data); err != nil {
			return s, fmt.Errorf("scan: account %d: %w", n, err)
		}
		n++
	}
	if n != bankAccounts {
		return s, fmt.Errorf("scan: %d records, want %d", n, bankAccounts)
	}
	return s, nil
}

// snapshot reads every account through a snapshot, which must see the
// money conserved, and sometimes keeps it open to read again later.
func (w *bankWorker) snapshot() {
	o := observation{worker: w.id, op: w.op, kind: "snapshot"}
	o.inv = w.clock.Add(1)
	s, err := w.db.Snapshot()
	o.ret = w.clock.Add(1)
	if err != nil {
		w.fail("snapshot: %v", err)
		return
	}
	var scan func(string) iter.Seq2[persy.Record, error]
	if w.rng.IntN(2) == 0 {
		scan = s.Scan
		o.kind = "snapshot scan"
	}
	read := func(id persy.RecordID) ([]byte, error) { return s.Read(bankSegment, id) }
	o.state, err = w.readAll(read, scan)
	if err != nil {
		s.Close()
		w.fail("%s: %v", o.kind, err)
		return
	}
	if got := o.state.sum(); got != bankAccounts*bankInitial {
		w.fail("%s saw a total of %d, want %d: %+v", o.kind, got, bankAccounts*bankInitial, o.state)
	}
	w.stats.snapshots++
	w.observations = append(w.observations, o)
	if w.rng.IntN(3) != 0 {
		if err := s.Close(); err != nil {
			w.fail("snapshot close: %v", err)
		}
		return
	}
	if w.held != nil {
		w.recheckHeld()
	}
	w.held, w.heldState = s, o.state
}

// recheckHeld reads the held snapshot again, after commits and
// checkpoints went on, and closes it.
func (w *bankWorker) recheckHeld() {
	s := w.held
	w.held = nil
	got, err := w.readAll(func(id persy.RecordID) ([]byte, error) { return s.Read(bankSegment, id) }, nil)
	if err != nil {
		w.fail("held snapshot: %v", err)
	} else if got != w.heldState {
		w.fail("held snapshot changed: it read %+v, now %+v", w.heldState, got)
	}
	if err := s.Close(); err != nil {
		w.fail("held snapshot close: %v", err)
	}
}

// audit reads every account in a read-only VersionOnRead transaction:
// if it commits, what it read was the latest at its commit, and
// consistent. It reports whether the audit aborted on a conflict, to be
// tried again.
func (w *bankWorker) audit() (aborted bool) {
	o := observation{worker: w.id, op: w.op, kind: "audit"}
	strategy := persy.VersionOnRead
	o.inv = w.clock.Add(1)
	tx, err := w.db.Begin(persy.TxOptions{Strategy: strategy})
	if err != nil {
		w.fail("audit begin: %v", err)
		return false
	}
	o.state, err = w.readAll(func(id persy.RecordID) ([]byte, error) { return tx.Read(bankSegment, id) }, nil)
	if err != nil {
		tx.Rollback()
		w.fail("audit: %v", err)
		return false
	}
	err = tx.Commit()
	o.ret = w.clock.Add(1)
	switch {
	case err == nil:
	case abort(err):
		w.stats.auditAborts++
		w.countAbort(err)
		return true
	default:
		w.fail("audit commit: %v", err)
		return false
	}
	if got := o.state.sum(); got != bankAccounts*bankInitial {
		w.fail("audit saw a total of %d, want %d: %+v", got, bankAccounts*bankInitial, o.state)
	}
	w.stats.audits++
	w.observations = append(w.observations, o)
	return false
}

func readBank(db *persy.DB, ids [bankAccounts]persy.RecordID) (bankState, error) {
	var s bankState
	err := db.View(func(snap *persy.Snapshot) error {
		for i, id := range ids {
			b, err := snap.Read(bankSegment, id)
			if err == nil {
				s[i], err = decodeAccount(b)
			}
			if err != nil {
				return fmt.Errorf("account %d: %w", i, err)
			}
		}
		return nil
	})
	return s, err
}

func TestConcurrentTransactionsLinearizable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	if err := persy.Create(path); err != nil {
		t.Fatal(err)
	}
	// A small checkpoint threshold makes commits run checkpoints while
	// snapshots are open.
	opts := persy.Options{LockTimeout: 2 * time.Second, CheckpointBytes: 16 << 10}
	db, err := persy.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			db.Close()
		}
	}()
	var ids [bankAccounts]persy.RecordID
	err = db.Update(func(tx *persy.Tx) error {
		if err := tx.CreateSegment(bankSegment); err != nil {
			return err
		}
		for i := range ids {
			var err error
			if ids[i], err = tx.Insert(bankSegment, account{balance: bankInitial}.encode()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	var clock atomic.Int64
	workers := make([]*bankWorker, bankWorkers)
	var wg sync.WaitGroup
	for i := range workers {
		w := &bankWorker{db: db, ids: ids, id: i, rng: rand.New(rand.NewPCG(bankSeed, uint64(i))), clock: &clock}
		workers[i] = w
		wg.Go(func() { w.run(bankOpsPerWorker) })
	}
	wg.Wait()
	elapsed := time.Since(start)

	var stats bankStats
	var transfers []transfer
	var observations []observation
	for _, w := range workers {
		for _, err := range w.errs {
			t.Error(err)
		}
		stats.add(w.stats)
		transfers = append(transfers, w.transfers...)
		observations = append(observations, w.observations...)
	}
	t.Logf("%v: %+v", elapsed, stats)
	if t.Failed() {
		t.FailNow()
	}
	if stats.committed == 0 || stats.twoPhase == 0 || stats.snapshots == 0 || stats.audits == 0 {
		t.Fatalf("the workload did not exercise every kind of operation: %+v", stats)
	}

	final, err := readBank(db, ids)
	if err != nil {
		t.Fatal(err)
	}
	checkBankHistory(t, transfers, observations, final)
	if err := db.Check(); err != nil {
		t.Fatalf("Check after the workload: %v", err)
	}
	closed = true
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// What was acknowledged is what the file holds.
	db, err = persy.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	closed = false
	got, err := readBank(db, ids)
	if err != nil {
		t.Fatal(err)
	}
	if got != final {
		t.Errorf("after reopening: %+v, want %+v", got, final)
	}
	if err := db.Check(); err != nil {
		t.Errorf("Check after reopening: %v", err)
	}
	closed = true
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkBankHistory checks that the committed transfers and the
// observations are strictly serializable and end in final.
func checkBankHistory(t *testing.T, transfers []transfer, observations []observation, final bankState) {
	t.Helper()
	initial := initialBank()

	// The plain bookkeeping: each balance is its start plus what came in
	// minus what went out.
	want := initial
	for _, tr := range transfers {
		want[tr.from].balance -= tr.amount
		want[tr.to].balance += tr.amount
	}
	for a := range final {
		if final[a].balance != want[a].balance {
			t.Errorf("account %d: final balance %d, want %d = %d + in - out over the committed transfers",
				a, final[a].balance, want[a].balance, bankInitial)
		}
		if final[a].balance < 0 {
			t.Errorf("account %d: final balance %d is negative", a, final[a].balance)
		}
	}

	// Each account's committed transfers form one chain of versions:
	// chain[a][v] is the transfer that read version v of account a, and
	// after[a][v] the account at version v.
	var chain [bankAccounts][]int
	var count [bankAccounts]int
	for _, tr := range transfers {
		count[tr.from]++
		count[tr.to]++
	}
	for a := range chain {
		chain[a] = make([]int, count[a])
		for v := range chain[a] {
			chain[a][v] = -1
		}
	}
	ok := true
	for i := range transfers {
		tr := &transfers[i]
		for k, a := range [2]int{tr.from, tr.to} {
			v := tr.read[k].writes
			switch {
			case v >= uint64(count[a]):
				t.Errorf("account %d: %v read version %d, but only %d committed transfers wrote the account", a, tr, v, count[a])
				ok = false
			case chain[a][v] >= 0:
				t.Errorf("account %d: lost update: two committed transfers read version %d:\n\t%v\n\t%v", a, v, &transfers[chain[a][v]], tr)
				ok = false
			default:
				chain[a][v] = i
			}
		}
	}
	if !ok {
		return
	}
	var after [bankAccounts][]account
	for a := range after {
		after[a] = make([]account, count[a]+1)
		after[a][0] = initial[a]
		for v, i := range chain[a] {
			tr := &transfers[i]
			k := 0
			if tr.to == a {
				k = 1
			}
			if tr.read[k] != after[a][v] {
				t.Errorf("account %d: %v read %+v at version %d, the previous transfer wrote %+v", a, tr, tr.read[k], v, after[a][v])
				ok = false
			}
			after[a][v+1] = tr.wrote(k)
			if after[a][v+1].balance < 0 {
				t.Errorf("account %d: %v left a negative balance", a, tr)
				ok = false
			}
		}
		if last := after[a][count[a]]; final[a] != last {
			t.Errorf("account %d: final %+v, the last committed transfer wrote %+v", a, final[a], last)
			ok = false
		}
	}
	if !ok {
		return
	}

	// Every observation sees a version of each account that some chain
	// reached, and no transfer half.
	for oi := range observations {
		o := &observations[oi]
		for a, acc := range o.state {
			if acc.writes > uint64(count[a]) || acc != after[a][acc.writes] {
				t.Errorf("%v: account %d is no state the committed transfers produced", o, a)
				ok = false
			}
		}
		for i := range transfers {
			tr := &transfers[i]
			inFrom := tr.read[0].writes < o.state[tr.from].writes
			inTo := tr.read[1].writes < o.state[tr.to].writes
			if inFrom != inTo {
				t.Errorf("%v sees only half of %v", o, tr)
				ok = false
			}
		}
	}
	if !ok {
		return
	}

	// One serial order must agree with every read and with real time.
	// Nodes: the transfers, then the observations.
	n := len(transfers) + len(observations)
	inv := func(x int) int64 {
		if x < len(transfers) {
			return transfers[x].inv
		}
		return observations[x-len(transfers)].inv
	}
	ret := func(x int) int64 {
		if x < len(transfers) {
			return transfers[x].ret
		}
		return observations[x-len(transfers)].ret
	}
	name := func(x int) string {
		if x < len(transfers) {
			return transfers[x].String()
		}
		return observations[x-len(transfers)].String()
	}
	succ := make([][]int, n)
	indeg := make([]int, n)
	edge := func(x, y int) {
		succ[x] = append(succ[x], y)
		indeg[y]++
	}
	for a := range chain {
		for v := 1; v < len(chain[a]); v++ {
			edge(chain[a][v-1], chain[a][v])
		}
	}
	for oi := range observations {
		o := len(transfers) + oi
		for i := range transfers {
			if transfers[i].read[0].writes < observations[oi].state[transfers[i].from].writes {
				edge(i, o)
			} else {
				edge(o, i)
			}
		}
	}
	for x := range n {
		for y := range n {
			if x != y && ret(x) < inv(y) {
				edge(x, y)
			}
		}
	}
	var order []int
	for x := range n {
		if indeg[x] == 0 {
			order = append(order, x)
		}
	}
	for i := 0; i < len(order); i++ {
		for _, y := range succ[order[i]] {
			if indeg[y]--; indeg[y] == 0 {
				order = append(order, y)
			}
		}
	}
	if len(order) < n {
		var stuck []string
		for x := range n {
			if indeg[x] > 0 && len(stuck) < 10 {
				stuck = append(stuck, name(x))
			}
		}
		t.Errorf("no serial order agrees with the reads and real time: %d of %d operations are on or after a cycle, among them:\n\t%v",
			n-len(order), n, stuck)
		return
	}
	// Replay that order serially: every read sees the serial state, and
	// the serial end state is the final one.
	s := initial
	for _, x := range order {
		if x >= len(transfers) {
			if o := &observations[x-len(transfers)]; o.state != s {
				t.Errorf("serial replay: %v, the serial state is %+v", o, s)
			}
			continue
		}
		tr := &transfers[x]
		if tr.read[0] != s[tr.from] || tr.read[1] != s[tr.to] {
			t.Errorf("serial replay: %v, the serial state is %+v", tr, s)
		}
		s[tr.from], s[tr.to] = tr.wrote(0), tr.wrote(1)
	}
	if s != final {
		t.Errorf("serial replay ends in %+v, the database in %+v", s, final)
	}
}
