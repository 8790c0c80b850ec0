package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gopersy/persy"
)

// decision is one decision given on the command line.
type decision struct {
	id     []byte
	commit bool
}

// decisionFlag is --commit or --rollback: each use adds a decision to
// one list, in command-line order.
type decisionFlag struct {
	list   *[]decision
	commit bool
}

func (f decisionFlag) String() string {
	if f.list == nil {
		return ""
	}
	var ids []string
	for _, d := range *f.list {
		if d.commit == f.commit {
			ids = append(ids, quoteID(d.id))
		}
	}
	return strings.Join(ids, ",")
}

func (f decisionFlag) Set(s string) error {
	id, err := txID(s)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(*f.list, func(d decision) bool { return bytes.Equal(d.id, id) }) {
		return fmt.Errorf("transaction %s is decided twice", quoteID(id))
	}
	*f.list = append(*f.list, decision{id, f.commit})
	return nil
}

// runRecover is persy recover: without decisions it lists the
// transactions a recovery finds, from a read-only open that changes
// nothing. With them it checks, still read-only, that they name exactly
// the prepared transactions (a finished recovery decides every one, so
// one left out is refused rather than committed by default), then opens
// the file for writing, decides, finishes the recovery and closes.
func runRecover(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("recover", "[--commit ID]... [--rollback ID]... FILE", stderr)
	var decisions []decision
	fs.Var(decisionFlag{&decisions, true}, "commit", "commit the prepared transaction `ID` (repeatable; a Go string literal in double quotes for an id that is not text)")
	fs.Var(decisionFlag{&decisions, false}, "rollback", "roll back the prepared transaction `ID` (repeatable)")
	path, ok := fileArg(fs, args)
	if !ok {
		return 2
	}

	txs, err := listTransactions(path)
	if err != nil {
		fmt.Fprintf(stderr, "persy recover: %s\n", openFailure(path, err))
		return 1
	}
	if len(decisions) == 0 {
		printTransactions(stdout, path, txs)
		return 0
	}
	if msg := checkDecisions(txs, decisions); msg != "" {
		printTransactions(stdout, path, txs)
		fmt.Fprintf(stderr, "persy recover: %s: %s; nothing was changed\n", path, msg)
		return 1
	}
	return decide(path, decisions, stdout, stderr)
}

// listTransactions returns the transactions a recovery of the file at
// path finds, from a read-only open.
func listTransactions(path string) ([]persy.RecoveredTx, error) {
	rec, err := persy.OpenRecover(path, persy.Options{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	return rec.Transactions(), nil
}

// checkDecisions says what is wrong with decisions for the
// transactions txs, "" if nothing is: each must name a prepared one, and
// every prepared one must be decided.
func checkDecisions(txs []persy.RecoveredTx, decisions []decision) string {
	prepared := func(id []byte) bool {
		return slices.ContainsFunc(txs, func(t persy.RecoveredTx) bool {
			return t.Status == persy.StatusPrepared && bytes.Equal(t.ID, id)
		})
	}
	for _, d := range decisions {
		if !prepared(d.id) {
			return fmt.Sprintf("no prepared transaction has the id %s", quoteID(d.id))
		}
	}
	var undecided []string
	for _, t := range txs {
		q := quoteID(t.ID)
		if t.Status == persy.StatusPrepared && !slices.Contains(undecided, q) &&
			!slices.ContainsFunc(decisions, func(d decision) bool { return bytes.Equal(d.id, t.ID) }) {
			undecided = append(undecided, q)
		}
	}
	if len(undecided) > 0 {
		return fmt.Sprintf("prepared and not decided: %s; a finished recovery decides every prepared transaction, so give each --commit or --rollback",
			strings.Join(undecided, ", "))
	}
	return ""
}

// decide opens the file at path for writing, carries out decisions,
// finishes the recovery and closes the database.
func decide(path string, decisions []decision, stdout, stderr io.Writer) int {
	rec, err := persy.OpenRecover(path, persy.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "persy recover: %s\n", openFailure(path, err))
		return 1
	}
	// Between the read-only look and this open another process may
	// have decided: check again, and give up before anything is decided.
	if msg := checkDecisions(rec.Transactions(), decisions); msg != "" {
		rec.Close()
		fmt.Fprintf(stderr, "persy recover: %s: %s; nothing was decided\n", path, msg)
		return 1
	}
	for _, d := range decisions {
		decideOne := rec.Rollback
		if d.commit {
			decideOne = rec.Commit
		}
		if err := decideOne(d.id); err != nil {
			rec.Close()
			fmt.Fprintf(stderr, "persy recover: %s: %v; nothing was decided\n", path, err)
			return 1
		}
	}
	db, err := rec.Finish()
	if err != nil {
		fmt.Fprintf(stderr, "persy recover: %s: finishing the recovery: %v\n", path, err)
		return 1
	}
	if err := db.Close(); err != nil {
		fmt.Fprintf(stderr, "persy recover: %s: closing after the recovery: %v\n", path, err)
		return 1
	}
	for _, d := range decisions {
		what := "rolled back"
		if d.commit {
			what = "committed"
		}
		fmt.Fprintf(stdout, "%s %s\n", what, quoteID(d.id))
	}
	fmt.Fprintf(stdout, "%s: recovered\n", path)
	return 0
}

func printTransactions(w io.Writer, path string, txs []persy.RecoveredTx) {
	prepared := 0
	for _, t := range txs {
		if t.Status == persy.StatusPrepared {
			prepared++
		}
	}
	fmt.Fprintf(w, "%s: %d transactions in the journal, %d prepared and undecided\n", path, len(txs), prepared)
	if len(txs) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  id\tstatus")
		for _, t := range txs {
			fmt.Fprintf(tw, "  %s\t%v\n", quoteID(t.ID), t.Status)
		}
		tw.Flush()
	}
	if prepared > 0 {
		fmt.Fprintf(w, "decide each prepared one: persy recover --commit ID | --rollback ID ... %s\n", path)
	}
}
