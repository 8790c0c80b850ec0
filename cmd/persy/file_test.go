package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gopersy/persy"
)

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// run runs a command as main does, returning its exit status, standard
// output and standard error.
func run(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = commands[args[0]](args[1:], &out, &errs)
	return code, out.String(), errs.String()
}

// sample holds what sampleFile put in its file.
type sample struct {
	path string
	// orders are the records of segment "orders", in id order.
	orders []persy.Record
}

// sampleFile creates a database: segment "orders" with five records,
// one of them not text; index "by-customer", string -> RecordID,
// Cluster, with four values on three keys; and, closed undecided, a
// prepared transaction for each of prepared, each inserting a record
// "prepared <id>".
func sampleFile(t *testing.T, prepared ...string) sample {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.persy")
	db, err := persy.OpenOrCreate(path, persy.Options{}, func(tx *persy.Tx) error {
		if err := tx.CreateSegment("orders"); err != nil {
			return err
		}
		return persy.CreateIndex[string, persy.RecordID](tx, "by-customer", persy.Cluster)
	})
	mustT(t, err)
	s := sample{path: path}
	byCustomer := persy.IndexOf[string, persy.RecordID]("by-customer")
	mustT(t, db.Update(func(tx *persy.Tx) error {
		for i, c := range []string{"ada", "bob", "ada", "cy"} {
			data := fmt.Appendf(nil, "%d apples for %s", i+1, c)
			id, err := tx.Insert("orders", data)
			if err != nil {
				return err
			}
			s.orders = append(s.orders, persy.Record{ID: id, Data: data})
			if err := byCustomer.Put(tx, c, id); err != nil {
				return err
			}
		}
		data := []byte{0xff, 0, 'x', '\t'}
		id, err := tx.Insert("orders", data)
		s.orders = append(s.orders, persy.Record{ID: id, Data: data})
		return err
	}))
	for _, id := range prepared {
		tx, err := db.Begin(persy.TxOptions{ID: []byte(id)})
		mustT(t, err)
		_, err = tx.Insert("orders", []byte("prepared "+id))
		mustT(t, err)
		_, err = tx.Prepare()
		mustT(t, err)
	}
	// Close leaves the prepared transactions prepared in the file.
	mustT(t, db.Close())
	return s
}

// unchanged fails the test if the file at path no longer holds before.
func unchanged(t *testing.T, path string, before []byte, what string) {
	t.Helper()
	after, err := os.ReadFile(path)
	mustT(t, err)
	if !bytes.Equal(before, after) {
		t.Fatalf("%s changed the file", what)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	mustT(t, err)
	return b
}

// pagesOfType returns the addresses of the pages of type typ (the
// numbers of package page) in the file bytes b whose header names their
// own address: the live pages of that type, and any stale copy a page
// freed left. It checks nothing else; the test that calls it knows what
// it looks for.
func pagesOfType(b []byte, typ byte) []int64 {
	var out []int64
	for addr := 0; addr+32 <= len(b); addr += 512 { // pages start on 512-byte boundaries
		if b[addr+5] == typ && binary.LittleEndian.Uint64(b[addr+8:]) == uint64(addr) {
			out = append(out, int64(addr))
		}
	}
	return out
}

// pagesHolding returns those of pagesOfType(b, typ) whose bytes, as
// many as the size exponent in the header says up to 4 KiB, hold
// pattern.
func pagesHolding(b []byte, typ byte, pattern []byte) []int64 {
	var out []int64
	for _, addr := range pagesOfType(b, typ) {
		size := int64(1) << min(b[addr+4], 12)
		if bytes.Contains(b[addr:min(addr+size, int64(len(b)))], pattern) {
			out = append(out, addr)
		}
	}
	return out
}

// TestLockedFile: while a process holds the file for writing every
// command refuses it, saying so, and changes nothing; while one holds
// it read-only, the read-only commands run beside it and a recovery
// that decides is refused. The lock is per open file description: an
// open in this process is refused as another process's would be.
func TestLockedFile(t *testing.T) {
	commandsOn := func(path string) [][]string {
		return [][]string{
			{"check", path},
			{"stats", path},
			{"recover", path},
			{"recover", "--commit", "xa-1", path},
			{"dump", path, "orders"},
		}
	}
	refused := func(what string, path string) {
		t.Helper()
		for _, args := range commandsOn(path) {
			code, _, stderr := run(args...)
			if code != 1 || !strings.Contains(stderr, path+" is in use by another process") {
				t.Errorf("%q while %s holds the file: exit %d, stderr %q", args, what, code, stderr)
			}
		}
	}

	// A database open for writing.
	s := sampleFile(t)
	db, err := persy.Open(s.path, persy.Options{})
	mustT(t, err)
	refused("an open database", s.path)
	mustT(t, db.Close())

	// A recovery open for writing, which decides nothing while it waits.
	s = sampleFile(t, "xa-1")
	before := readFile(t, s.path)
	rec, err := persy.OpenRecover(s.path, persy.Options{})
	mustT(t, err)
	refused("a recovery", s.path)
	mustT(t, rec.Close())
	unchanged(t, s.path, before, "commands refused a locked file")

	reader, err := persy.Open(s.path, persy.Options{ReadOnly: true})
	mustT(t, err)
	defer reader.Close()
	for _, args := range commandsOn(s.path) {
		code, _, stderr := run(args...)
		decides := slices.Contains(args, "--commit")
		switch {
		case decides && (code != 1 || !strings.Contains(stderr, s.path+" is in use by another process")):
			t.Errorf("%q while a reader holds the file: exit %d, stderr %q; want it refused", args, code, stderr)
		case !decides && code != 0:
			t.Errorf("%q beside a reader: exit %d, stderr %q", args, code, stderr)
		}
	}
	unchanged(t, s.path, before, "commands beside a reader")
}

// TestParseArgs: flags go before, between or after the positional
// arguments; after "--" everything is positional.
func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		pos  []string
		json bool
		ids  []string
	}{
		{[]string{"f", "n"}, []string{"f", "n"}, false, nil},
		{[]string{"--json", "f", "n"}, []string{"f", "n"}, true, nil},
		{[]string{"f", "-json", "n", "--id", "a", "--id=b"}, []string{"f", "n"}, true, []string{"a", "b"}},
		{[]string{"f", "--", "--json", "-x"}, []string{"f", "--json", "-x"}, false, nil},
		{[]string{"--json", "--", "f"}, []string{"f"}, true, nil},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		j := fs.Bool("json", false, "")
		var ds []decision
		fs.Var(decisionFlag{&ds, true}, "id", "")
		pos, err := parseArgs(fs, c.args)
		var l []string
		for _, d := range ds {
			l = append(l, string(d.id))
		}
		if err != nil || !slices.Equal(pos, c.pos) || *j != c.json || !slices.Equal(l, c.ids) {
			t.Errorf("%q: positional %q, json %v, ids %q, err %v; want %q, %v, %q", c.args, pos, *j, l, err, c.pos, c.json, c.ids)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if _, err := parseArgs(fs, []string{"f", "--nope"}); err == nil {
		t.Error("an unknown flag after a positional argument parsed")
	}
}

// TestBadArguments: wrong arguments are a usage error, exit 2, never a
// panic.
func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"check"}, {"check", "a", "b"}, {"stats"}, {"recover"}, {"dump", "f"}, {"dump", "f", "n", "x"},
		{"dump", "--segment", "--index", "f", "n"}, {"check", "--nope", "f"},
		{"recover", "--commit", `"unterminated`, "f"}, {"recover", "--commit", "a", "--rollback", "a", "f"},
	} {
		code, _, stderr := run(args...)
		if code != 2 || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q; want a usage error", args, code, stderr)
		}
	}
}
