package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gopersy/persy"
)

// TestDumpSegment: a segment's records, each its id and value, in id
// order, as text and as JSON lines that decode to the same bytes; the
// file is not changed.
func TestDumpSegment(t *testing.T) {
	s := sampleFile(t, "xa-1")
	before := readFile(t, s.path)

	code, stdout, stderr := run("dump", s.path, "orders")
	var want strings.Builder
	for _, r := range s.orders {
		fmt.Fprintf(&want, "%v\t%q\n", r.ID, r.Data)
	}
	if code != 0 || stdout != want.String() {
		t.Fatalf("dump orders: exit %d, stderr %q\n%s\nwant\n%s", code, stderr, stdout, want.String())
	}
	if !strings.Contains(stdout, "\t\"\\xff\\x00x\\t\"\n") {
		t.Errorf("a record that is not text is not a Go literal:\n%s", stdout)
	}

	code, stdout, stderr = run("dump", "--json", s.path, "orders")
	if code != 0 {
		t.Fatalf("dump --json orders: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(s.orders) {
		t.Fatalf("dump --json: %d lines for %d records (the prepared one is not committed):\n%s", len(lines), len(s.orders), stdout)
	}
	for i, l := range lines {
		var rec struct {
			ID    persy.RecordID
			Value json.RawMessage
		}
		mustT(t, json.Unmarshal([]byte(l), &rec))
		var text string
		var bin struct{ Base64 []byte }
		if json.Unmarshal(rec.Value, &text) != nil {
			mustT(t, json.Unmarshal(rec.Value, &bin))
			text = string(bin.Base64)
		}
		if rec.ID != s.orders[i].ID || text != string(s.orders[i].Data) {
			t.Errorf("line %d: %s decodes to %v %q, want %v %q", i, l, rec.ID, text, s.orders[i].ID, s.orders[i].Data)
		}
	}
	if want := `{"id":"` + s.orders[4].ID.String() + `","value":{"base64":"/wB4CQ=="}}`; lines[4] != want {
		t.Errorf("a record that is not UTF-8: %s, want %s", lines[4], want)
	}
	unchanged(t, s.path, before, "dump")
}

// TestDumpIndex: an index's keys in order, each with its values, decoded
// by the types the index was created with, as text and as JSON lines.
func TestDumpIndex(t *testing.T) {
	s := sampleFile(t)
	ids := make([]string, len(s.orders))
	for i, r := range s.orders {
		ids[i] = r.ID.String()
	}
	code, stdout, stderr := run("dump", s.path, "by-customer")
	want := fmt.Sprintf("\"ada\"\t%s\t%s\n\"bob\"\t%s\n\"cy\"\t%s\n", ids[0], ids[2], ids[1], ids[3])
	if code != 0 || stdout != want {
		t.Fatalf("dump by-customer: exit %d, stderr %q\n%s\nwant\n%s", code, stderr, stdout, want)
	}
	code, stdout, stderr = run("dump", s.path, "by-customer", "--json")
	want = fmt.Sprintf(`{"key":"ada","values":["%s","%s"]}`+"\n"+`{"key":"bob","values":["%s"]}`+"\n"+`{"key":"cy","values":["%s"]}`+"\n",
		ids[0], ids[2], ids[1], ids[3])
	if code != 0 || stdout != want {
		t.Fatalf("dump --json by-customer: exit %d, stderr %q\n%s\nwant\n%s", code, stderr, stdout, want)
	}

	// Types JSON has no plain form for: floats that are not finite,
	// 128-bit integers, byte slices that are not text.
	db, err := persy.Open(s.path, persy.Options{})
	mustT(t, err)
	mustT(t, db.Update(func(tx *persy.Tx) error {
		if err := persy.CreateIndex[float64, persy.Int128](tx, "temps", persy.Replace); err != nil {
			return err
		}
		if err := persy.CreateIndex[[]byte, uint8](tx, "raw", persy.Replace); err != nil {
			return err
		}
		temps := persy.IndexOf[float64, persy.Int128]("temps")
		for i, k := range []float64{math.Inf(-1), 1.5, math.NaN(), math.Copysign(0, -1)} {
			if err := temps.Put(tx, k, persy.Int128{Hi: -1, Lo: uint64(i)}); err != nil {
				return err
			}
		}
		raw := persy.IndexOf[[]byte, uint8]("raw")
		if err := raw.Put(tx, []byte{0xfe}, 1); err != nil {
			return err
		}
		return raw.Put(tx, []byte("ok"), 2)
	}))
	mustT(t, db.Close())
	for _, c := range []struct{ args, want string }{
		{"temps", "-Inf\t-18446744073709551616\n-0\t-18446744073709551613\n1.5\t-18446744073709551615\nNaN\t-18446744073709551614\n"},
		{"--json temps", `{"key":"-Inf","values":[-18446744073709551616]}` + "\n" + `{"key":-0,"values":[-18446744073709551613]}` + "\n" +
			`{"key":1.5,"values":[-18446744073709551615]}` + "\n" + `{"key":"NaN","values":[-18446744073709551614]}` + "\n"},
		{"raw", "\"ok\"\t2\n\"\\xfe\"\t1\n"},
		{"--json raw", `{"key":"ok","values":[2]}` + "\n" + `{"key":{"base64":"/g=="},"values":[1]}` + "\n"},
	} {
		args := append([]string{"dump", s.path}, strings.Fields(c.args)...)
		if code, stdout, stderr := run(args...); code != 0 || stdout != c.want {
			t.Errorf("dump %s: exit %d, stderr %q\n%s\nwant\n%s", c.args, code, stderr, stdout, c.want)
		}
	}
}

// TestDumpNames: a name that is both a segment and an index needs
// --segment or --index; a name that is neither is an error that lists
// what there is.
func TestDumpNames(t *testing.T) {
	s := sampleFile(t)
	db, err := persy.Open(s.path, persy.Options{})
	mustT(t, err)
	mustT(t, db.Update(func(tx *persy.Tx) error {
		if err := tx.CreateSegment("by-customer"); err != nil {
			return err
		}
		_, err := tx.Insert("by-customer", []byte("a record"))
		return err
	}))
	mustT(t, db.Close())

	if code, _, stderr := run("dump", s.path, "by-customer"); code != 2 || !strings.Contains(stderr, "say which with --segment or --index") {
		t.Errorf("dump of a name both a segment and an index: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, stderr := run("dump", "--segment", s.path, "by-customer"); code != 0 || !strings.HasSuffix(stdout, "\t\"a record\"\n") {
		t.Errorf("dump --segment: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	if code, stdout, stderr := run("dump", "--index", s.path, "by-customer"); code != 0 || !strings.HasPrefix(stdout, "\"ada\"\t") {
		t.Errorf("dump --index: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	code, _, stderr := run("dump", s.path, "nope")
	if want := `has no segment or index named "nope"; segments: "by-customer", "orders"; indexes: "by-customer"`; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("dump of a missing name: exit %d, stderr %q, want %q", code, stderr, want)
	}
	if code, _, stderr := run("dump", "--index", s.path, "orders"); code != 1 || !strings.Contains(stderr, `has no index named "orders"`) {
		t.Errorf("dump --index of a segment: exit %d, stderr %q", code, stderr)
	}
}
