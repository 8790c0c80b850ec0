package main

import (
	"regexp"
	"strconv"
	"testing"
)

// TestStats: stats prints the segments and indexes with their counts,
// the pages by kind summing to the allocated part of the file, the
// journal and the prepared transactions, and changes nothing.
func TestStats(t *testing.T) {
	s := sampleFile(t, "xa-1", "xa-2")
	before := readFile(t, s.path)
	code, stdout, stderr := run("stats", s.path)
	if code != 0 {
		t.Fatalf("stats: exit %d\n%s%s", code, stdout, stderr)
	}
	recordBytes := 0
	for _, r := range s.orders {
		recordBytes += len(r.Data)
	}
	for _, want := range []string{
		`(?m)^file .*: \d+ bytes, pages up to \d+, \d+ grown and unused$`,
		// Five committed records; the prepared ones' are not committed.
		`(?m)^  "orders"\s+5\s+` + strconv.Itoa(recordBytes) + `\s+\d+\s+1$`,
		`(?m)^  "by-customer"\s+string -> RecordID\s+Cluster\s+3\s+4\s+1\s+1\s+\d+$`,
		`(?m)^prepared transactions: 2\n  "xa-1"\n  "xa-2"\n`,
		`(?m)^journal: [1-9]\d* pages, \d+ bytes, \d+ spare pages; \d+ bytes of entries since the last checkpoint$`,
		// The five small records share one pack.
		`(?m)^\s+data\s+1\s+512$`,
	} {
		if !regexp.MustCompile(want).MatchString(stdout) {
			t.Errorf("stats output lacks %s:\n%s", want, stdout)
		}
	}
	m := regexp.MustCompile(`pages up to (\d+),`).FindStringSubmatch(stdout)
	total := regexp.MustCompile(`(?m)^\s+total\s+\d+\s+(\d+)$`).FindStringSubmatch(stdout)
	if m == nil || total == nil || m[1] != total[1] {
		t.Errorf("the pages by kind do not sum to where the pages end (%v, %v):\n%s", m, total, stdout)
	}
	unchanged(t, s.path, before, "stats")
}
