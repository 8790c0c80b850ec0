package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/gopersy/persy"
)

// orderTexts returns the records of segment "orders" of the file at
// path, read from a read-only open.
func orderTexts(t *testing.T, path string) []string {
	t.Helper()
	db, err := persy.Open(path, persy.Options{ReadOnly: true})
	mustT(t, err)
	defer db.Close()
	var out []string
	mustT(t, db.View(func(s *persy.Snapshot) error {
		for r, err := range s.Scan("orders") {
			if err != nil {
				return err
			}
			out = append(out, string(r.Data))
		}
		return nil
	}))
	return out
}

// TestRecover: recover lists the transactions a recovery finds without
// changing the file; refuses decisions that name a transaction not
// prepared, or leave one undecided, still without changing it; and
// with a decision for each prepared one commits and rolls back as told
// and finishes the recovery, after which none is prepared.
func TestRecover(t *testing.T) {
	s := sampleFile(t, "xa-1", "xa-2")
	before := readFile(t, s.path)

	code, stdout, stderr := run("recover", s.path)
	if code != 0 {
		t.Fatalf("recover listing: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		`: 2 transactions in the journal, 2 prepared and undecided\n`,
		`(?m)^  "xa-1"\s+prepared\n  "xa-2"\s+prepared$`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("recover listing lacks %s:\n%s", want, stdout)
		}
	}
	unchanged(t, s.path, before, "recover without decisions")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--commit", "xa-1"}, `prepared and not decided: "xa-2"`},
		{[]string{"--commit", "xa-1", "--rollback", "xa-2", "--commit", "xa-3"}, `no prepared transaction has the id "xa-3"`},
	} {
		code, _, stderr := run(append(append([]string{"recover"}, c.args...), s.path)...)
		if code != 1 || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, "nothing was changed") {
			t.Errorf("recover %q: exit %d, stderr %q; want it refused: %s", c.args, code, stderr, c.want)
		}
		unchanged(t, s.path, before, "a refused recover")
	}

	// Flags after the file, and an id as the Go literal the listing
	// prints.
	code, stdout, stderr = run("recover", s.path, "--rollback", "xa-1", "--commit", `"xa-2"`)
	if code != 0 || stdout != "rolled back \"xa-1\"\ncommitted \"xa-2\"\n"+s.path+": recovered\n" {
		t.Fatalf("recover with decisions: exit %d\n%s%s", code, stdout, stderr)
	}
	got := orderTexts(t, s.path)
	if len(got) != 6 || got[5] != "prepared xa-2" {
		t.Errorf("after committing xa-2 and rolling back xa-1 orders holds %q: want the five records and xa-2's", got)
	}

	code, stdout, _ = run("recover", s.path)
	if code != 0 || !strings.Contains(stdout, ": 0 transactions in the journal, 0 prepared and undecided\n") {
		t.Errorf("recover after recovery: exit %d\n%s", code, stdout)
	}
	db, err := persy.Open(s.path, persy.Options{OnPrepared: func([]byte) persy.Decision {
		t.Error("a transaction is still prepared after recover decided them all")
		return persy.DecideRollback
	}})
	mustT(t, err)
	mustT(t, db.Close())
	if code, _, stderr := run("recover", "--commit", "xa-1", s.path); code != 1 || !strings.Contains(stderr, `no prepared transaction has the id "xa-1"`) {
		t.Errorf("a decision for a transaction decided already: exit %d, stderr %q", code, stderr)
	}
}

// TestRecoverIDs: ids that are not text are listed as Go string
// literals, which --commit and --rollback take back.
func TestRecoverIDs(t *testing.T) {
	id := "xa\x00\n\"é"
	s := sampleFile(t, id)
	code, stdout, _ := run("recover", s.path)
	quoted := `"xa\x00\n\"é"`
	if code != 0 || !strings.Contains(stdout, "\n  "+quoted+"  prepared\n") {
		t.Fatalf("listing of id %q: exit %d\n%s", id, code, stdout)
	}
	if code, _, stderr := run("recover", "--rollback", quoted, s.path); code != 0 {
		t.Fatalf("rollback of %s: exit %d: %s", quoted, code, stderr)
	}
	if got := orderTexts(t, s.path); len(got) != 5 {
		t.Errorf("after rolling back %s orders holds %q", quoted, got)
	}
	rec, err := persy.OpenRecover(s.path, persy.Options{})
	if err != nil {
		t.Fatalf("open after recover: %v", err)
	}
	if txs := rec.Transactions(); len(txs) != 0 {
		t.Errorf("after recover the journal holds %v", txs)
	}
	mustT(t, rec.Close())
}
