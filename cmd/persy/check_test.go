package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	persy "github.com/gopersy/persy"
)

// The page types of package page, as the tests find pages by them.
const (
	typeData    = 5
	typeAddress = 6
	typeCatalog = 8
	typePack    = 9
)

// TestCheckClean: a sound file checks clean, exit 0, and the check
// changes nothing, though the file holds a prepared transaction that a
// writer's recovery would decide.
func TestCheckClean(t *testing.T) {
	s := sampleFile(t, "xa-1")
	before := readFile(t, s.path)
	code, stdout, stderr := run("check", s.path)
	if code != 0 || !regexp.MustCompile(`: clean: pages [1-9]\d*, segments 1, indexes 1, prepared transactions 1\n$`).MatchString(stdout) {
		t.Fatalf("check of a sound file: exit %d\n%s%s", code, stdout, stderr)
	}
	unchanged(t, s.path, before, "check")
}

// TestCheckCorruptDataPage: bytes flipped in a record's data page make
// check exit 1 and name the page, its segment and its record; the check
// changes nothing.
func TestCheckCorruptDataPage(t *testing.T) {
	s := sampleFile(t)
	b := readFile(t, s.path)
	victim := s.orders[1]
	addr := recordPage(t, b, victim)
	b[addr+32+2] ^= 0xff // a byte of the page's payload
	mustT(t, os.WriteFile(s.path, b, 0o644))

	code, stdout, stderr := run("check", s.path)
	if code != 1 {
		t.Fatalf("check of a corrupt data page: exit %d\n%s%s", code, stdout, stderr)
	}
	// The walk of the segment meets the page, and so does the walk of
	// every reachable page: each says so.
	want := fmt.Sprintf("\n  page %d: segment \"orders\", record %v: checksum ", addr, victim.ID)
	if !regexp.MustCompile(`^`+regexp.QuoteMeta(s.path)+`: \d+ violations?\n`).MatchString(stdout) || !strings.Contains(stdout, want) {
		t.Fatalf("check output lacks the violation %q:\n%s", want, stdout)
	}
	unchanged(t, s.path, b, "check")
}

// recordPage returns the address of the one data page or pack of file b
// that holds rec.
func recordPage(t *testing.T, b []byte, rec persy.Record) int64 {
	t.Helper()
	pages := append(pagesHolding(b, typeData, rec.Data), pagesHolding(b, typePack, rec.Data)...)
	if len(pages) != 1 {
		t.Fatalf("record %q is on data pages %v, want one", rec.Data, pages)
	}
	return pages[0]
}

// TestCheckCorruptAfterRecord: a byte flipped after a record, in the
// zero bytes of its data page that reads leave unread, does not change
// what the record reads (dump shows it as written), and check, which
// reads whole pages, reports the page: exit 1.
func TestCheckCorruptAfterRecord(t *testing.T) {
	s := sampleFile(t)
	b := readFile(t, s.path)
	victim := s.orders[1]
	addr := recordPage(t, b, victim)
	b[addr+511] ^= 0x01 // the last byte of the record's 512-byte page
	mustT(t, os.WriteFile(s.path, b, 0o644))

	code, stdout, stderr := run("dump", s.path, "orders")
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("%q", victim.Data)) && !strings.Contains(stdout, string(victim.Data)) {
		t.Fatalf("dump after a flip past the record: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
	code, stdout, stderr = run("check", s.path)
	want := fmt.Sprintf("\n  page %d: segment \"orders\", record %v: ", addr, victim.ID)
	if code != 1 || !strings.Contains(stdout, want) || !strings.Contains(stdout, "bytes after the payload are not zero") {
		t.Fatalf("check after a flip past the record: exit %d, want 1 and %q\n%s%s", code, want, stdout, stderr)
	}
	unchanged(t, s.path, b, "check")
}

// TestCheckCorruptAddressPages: a file whose address pages are corrupt
// opens, since opening reads none, and its check finds each of them
// where the segment's walk meets it: exit 1.
func TestCheckCorruptAddressPages(t *testing.T) {
	s := sampleFile(t)
	b := readFile(t, s.path)
	// Every address page, live or freed: the live ones' loss is what
	// matters.
	addrs := pagesOfType(b, typeAddress)
	if len(addrs) == 0 {
		t.Fatal("no address page found")
	}
	for _, addr := range addrs {
		b[addr+100] ^= 0xff
	}
	mustT(t, os.WriteFile(s.path, b, 0o644))
	code, stdout, stderr := run("check", s.path)
	if code != 1 || !regexp.MustCompile(`(?m)^  page \d+: segment "orders": checksum`).MatchString(stdout) {
		t.Fatalf("check of a file whose address pages are corrupt: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	unchanged(t, s.path, b, "check")
}

// TestCheckUnopenable: a file whose recovery meets a corrupt page does
// not open: check says so, exit 1, and lists what the walk of the file
// finds without recovery. A file that is no database, or none at all,
// exits 1 with a message.
func TestCheckUnopenable(t *testing.T) {
	s := sampleFile(t)
	b := readFile(t, s.path)
	cats := pagesOfType(b, typeCatalog)
	if len(cats) == 0 {
		t.Fatal("no catalogue page found")
	}
	for _, addr := range cats {
		b[addr+100] ^= 0xff
	}
	mustT(t, os.WriteFile(s.path, b, 0o644))
	code, stdout, stderr := run("check", s.path)
	if code != 1 || !strings.Contains(stderr, s.path+" is corrupt and does not open: page ") {
		t.Fatalf("check of a file whose catalogue is corrupt: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "without recovery, as its last checkpoint left it:\n") ||
		!regexp.MustCompile(`(?m)^  page \d+: checksum`).MatchString(stdout) {
		t.Fatalf("check of an unopenable file lists no violation of its catalogue:\n%s", stdout)
	}
	unchanged(t, s.path, b, "check")

	junk := filepath.Join(t.TempDir(), "junk")
	mustT(t, os.WriteFile(junk, []byte(strings.Repeat("not a database ", 10000)), 0o644))
	for _, c := range []struct{ path, want string }{
		{junk, junk + " is not a persy-go database"},
		{filepath.Join(t.TempDir(), "none"), "none: no such file"},
		{t.TempDir(), " is a directory"},
	} {
		if code, _, stderr := run("check", c.path); code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("check %s: exit %d, stderr %q, want %q", c.path, code, stderr, c.want)
		}
	}
}
