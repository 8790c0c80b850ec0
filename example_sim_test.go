package persy_test

import (
	"errors"
	"fmt"
	"log"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// A bank-transfer workload, the way a program that embeds persy-go states
// its own workload and invariant for the crash simulator: a few accounts
// as records of one segment, transfers between them in transactions (some
// two-phase, under a caller-chosen id), and the invariant that after any
// crash and recovery the money adds up and every transfer is there whole
// or not at all.

// accounts and opening are the bank's accounts and what each holds at
// first.
var accounts = []string{"alice", "bob", "carol", "dave"}

const opening = 100

// bank is one run's state: what the run was told is durable, which Check
// compares with what a reboot finds. sim.NewWorkload starts every run
// from a zero bank.
type bank struct {
	// split is the bug of bankSplit: a transfer in two transactions.
	split bool
	// opened: persy.OpenStorage returned, so the file exists. funded:
	// the accounts' creation was acknowledged.
	opened, funded bool
	ids            map[string]persy.RecordID
	// decided is the two-phase coordinator's log of commit decisions,
	// kept on another machine: it survives the crash. A transaction
	// recovery finds prepared commits if it is there and rolls back
	// otherwise (presumed abort).
	decided map[string]bool
	// applied are the transfers that must be there after a crash;
	// inDoubt the one-phase transfer under way, there or not.
	applied []payment
	inDoubt *payment
}

type payment struct {
	from, to string
	amount   int
}

// options are persy's options in the simulation: ManualSync and a lock
// timeout that fails at once keep the engine from starting goroutines
// or reading the clock, so that every run replays exactly.
func (b *bank) options() persy.Options {
	return persy.Options{
		ManualSync:  true,
		LockTimeout: -1,
		OnPrepared: func(id []byte) persy.Decision {
			if b.decided[string(id)] {
				return persy.DecideCommit
			}
			return persy.DecideRollback
		},
	}
}

// run opens persy on the simulated disk, creates the accounts and makes
// the transfers that ch decides. When the disk crashes under it, the
// error it returns is the crash's, which the runner expects.
func (b *bank) run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	b.ids, b.decided = map[string]persy.RecordID{}, map[string]bool{}
	db, err := persy.OpenStorage(s, b.options())
	if err != nil {
		return err
	}
	b.opened = true
	err = db.Update(func(tx *persy.Tx) error {
		if err := tx.CreateSegment("accounts"); err != nil {
			return err
		}
		for _, name := range accounts {
			id, err := tx.Insert("accounts", accountRecord(name, opening))
			if err != nil {
				return err
			}
			b.ids[name] = id
		}
		return nil
	})
	if err != nil {
		return err
	}
	b.funded = true

	for i := range 1 + ch.Choose("transfers", 6) {
		from := ch.Choose("from", len(accounts))
		to := (from + 1 + ch.Choose("to", len(accounts)-1)) % len(accounts)
		t := payment{accounts[from], accounts[to], 1 + ch.Choose("amount", 50)}
		switch kind := ch.Choose("kind", 3); {
		case kind == 0 && b.split:
			// The bug: the debit and the credit commit apart.
			b.inDoubt = &t
			if err := db.Update(func(tx *persy.Tx) error { return b.add(tx, t.from, -t.amount) }); err != nil {
				return err
			}
			if err := db.Update(func(tx *persy.Tx) error { return b.add(tx, t.to, t.amount) }); err != nil {
				return err
			}
			b.applied, b.inDoubt = append(b.applied, t), nil
		case kind == 0:
			// One phase: acknowledged when Commit returns.
			b.inDoubt = &t
			if err := db.Update(func(tx *persy.Tx) error { return b.move(tx, t) }); err != nil {
				return err
			}
			b.applied, b.inDoubt = append(b.applied, t), nil
		default:
			// Two phases under our own id: prepared, then the
			// coordinator's decision, logged before it is carried out.
			id := fmt.Sprintf("transfer-%d", i)
			tx, err := db.Begin(persy.TxOptions{ID: []byte(id)})
			if err != nil {
				return err
			}
			if err := b.move(tx, t); err != nil {
				return err
			}
			p, err := tx.Prepare()
			if err != nil {
				return err
			}
			if kind == 1 {
				b.decided[id] = true
				b.applied = append(b.applied, t)
				err = p.Commit()
			} else {
				err = p.Rollback()
			}
			if err != nil {
				return err
			}
		}
	}
	return db.Close()
}

// move makes transfer t in tx.
func (b *bank) move(tx *persy.Tx, t payment) error {
	if err := b.add(tx, t.from, -t.amount); err != nil {
		return err
	}
	return b.add(tx, t.to, t.amount)
}

// add adds delta to the balance of account name in tx.
func (b *bank) add(tx *persy.Tx, name string, delta int) error {
	data, err := tx.Read("accounts", b.ids[name])
	if err != nil {
		return err
	}
	_, balance, err := parseAccount(data)
	if err != nil {
		return err
	}
	return tx.Update("accounts", b.ids[name], accountRecord(name, balance+delta))
}

func accountRecord(name string, balance int) []byte {
	return []byte(name + "=" + strconv.Itoa(balance))
}

func parseAccount(data []byte) (string, int, error) {
	name, n, ok := strings.Cut(string(data), "=")
	balance, err := strconv.Atoi(n)
	if !ok || err != nil {
		return "", 0, fmt.Errorf("bank: account record %q", data)
	}
	return name, balance, nil
}

// check opens what the reboot found, letting persy recover it and decide
// each prepared transfer as the coordinator's log says, and compares the
// accounts with the transfers the run was told are durable. On a disk
// the media profile damaged (r.Damaged) durability is not promised,
// only that the damage is detected or the money still adds up.
func (b *bank) check(r sim.Reboot) error {
	err := b.verify(r)
	var corrupt *persy.CorruptError
	if r.Damaged && (errors.As(err, &corrupt) || errors.Is(err, persy.ErrNotPersyFile) || errors.Is(err, persy.ErrFormatVersion)) {
		return nil // detected
	}
	return err
}

func (b *bank) verify(r sim.Reboot) error {
	if r.Storage == nil {
		if b.opened {
			return errors.New("bank: the database file is gone after it was opened")
		}
		return nil // the crash came before the file's creation was durable
	}
	db, err := persy.OpenStorage(r.Storage, b.options())
	if err != nil {
		return fmt.Errorf("bank: recovery: %w", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		return fmt.Errorf("bank: %w", err)
	}
	got := map[string]int{}
	err = db.View(func(s *persy.Snapshot) error {
		if ok, err := s.SegmentExists("accounts"); !ok || err != nil {
			return err
		}
		for rec, err := range s.Scan("accounts") {
			if err != nil {
				return err
			}
			name, balance, err := parseAccount(rec.Data)
			if err != nil {
				return err
			}
			got[name] = balance
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("bank: reading the accounts: %w", err)
	}
	if len(got) == 0 && (!b.funded || r.Damaged) {
		return nil // the accounts' creation was not acknowledged, or the damage lost it
	}
	total := 0
	for _, balance := range got {
		total += balance
	}
	if want := opening * len(accounts); total != want || len(got) != len(accounts) {
		return fmt.Errorf("bank: money changed: %d accounts hold %d, not %d", len(got), total, want)
	}
	if r.Damaged {
		return nil
	}
	want := balances(b.applied)
	if maps.Equal(got, want) {
		return nil
	}
	if b.inDoubt != nil && maps.Equal(got, balances(append(slices.Clip(b.applied), *b.inDoubt))) {
		return nil
	}
	return fmt.Errorf("bank: a transfer is partial or lost: the accounts hold %v, the acknowledged transfers give %v", got, want)
}

// balances are the accounts after transfers ts.
func balances(ts []payment) map[string]int {
	m := map[string]int{}
	for _, name := range accounts {
		m[name] = opening
	}
	for _, t := range ts {
		m[t.from] -= t.amount
		m[t.to] += t.amount
	}
	return m
}

// bankWorkload is the bank as a workload for the crash simulator.
func bankWorkload() sim.Workload {
	return sim.NewWorkload("bank", (*bank).run, (*bank).check)
}

// bankSplit is the bank with a bug: a one-phase transfer commits its
// debit and its credit in two transactions.
func bankSplit() sim.Workload {
	return sim.NewWorkload("bank-split", func(b *bank, s mmapfile.Storage, ch diskmodel.Chooser) error {
		b.split = true
		return b.run(s, ch)
	}, (*bank).check)
}

// Crash-test an application: the bank's transfers run over the simulated
// disk, which crashes them before and after every barrier; every crash
// image is rebooted, recovered and checked. A real test calls
// sim.Test(t, cfg), which fails the test with the shrunk failure and
// writes its schedule under testdata/sim.
func Example_crashTesting() {
	rep := sim.Explore(sim.Config{
		Workload: bankWorkload(),
		Strategy: sim.Barriers,
		Checks:   5,
		Seed:     1,
	})
	if rep.Minimal != nil {
		log.Fatalf("%s\n%s", rep.Minimal.Failure, rep.Minimal.Trace)
	}
	fmt.Println("bank: clean; crash states checked:", rep.States > 0)
	// Output:
	// bank: clean; crash states checked: true
}

// The harness catches an application's bug: with a transfer's debit and
// credit committed apart, a crash between them loses money. The failure
// shrinks to one transfer, and the schedule written for it replays to
// the same trace.
func Example_crashTestingFindsABug() {
	rep := sim.Explore(sim.Config{Workload: bankSplit(), Strategy: sim.Barriers, Checks: 20, Seed: 3})
	s := rep.Minimal
	if s == nil {
		log.Fatal("the split transfer was not caught")
	}
	fmt.Println(s.Failure)
	for _, c := range s.Run {
		if c.Label == "transfers" {
			fmt.Println("transfers in the shrunk run:", c.Value+1)
		}
	}

	dir, err := os.MkdirTemp("", "bank")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path, err := s.WriteFiles(dir)
	if err != nil {
		log.Fatal(err)
	}
	// ReplayFile fails unless the replay finds the same failure with
	// the same trace hash.
	again, res, err := sim.ReplayFile(path, []sim.Workload{bankWorkload(), bankSplit()})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("replayed:", again.Workload, res.SHA256 == s.TraceSHA256)
	// Output:
	// bank: money changed: 4 accounts hold 399, not 400
	// transfers in the shrunk run: 1
	// replayed: bank-split true
}
