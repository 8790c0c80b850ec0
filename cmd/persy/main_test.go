package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestSimTable(t *testing.T) {
	var out, errs bytes.Buffer
	dir := t.TempDir()
	code := runSim([]string{"-checks", "20", "-seed", "5", "-strategy", "barriers,sweep", "-profile", "linux-strict", "-workload", "^append-log", "-out", dir}, &out, &errs)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errs.String())
	}
	table := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^\s+append-log\s+linux-strict\s+barriers\s+\d+\s+\d+\s+[1-9]\d*\s+\d+\s+0\s+clean$`),
		regexp.MustCompile(`(?m)^\s+append-log-missing-barrier\s+linux-strict\s+sweep\s+\d+\s+\d+\s+[1-9]\d*\s+\d+\s+[1-9]\d*\s+caught$`),
		regexp.MustCompile(`every correct workload clean, every broken one caught`),
		regexp.MustCompile(`(?m)^\s+total\s+\d+\s+[1-9]\d*\s+\d+\s*$`),
	} {
		if !want.MatchString(table) {
			t.Errorf("the table lacks %v:\n%s", want, table)
		}
	}
	// The failures it wrote replay.
	files, _ := filepath.Glob(filepath.Join(dir, "*.schedule"))
	if len(files) == 0 {
		t.Fatal("no schedule written for the caught failure")
	}
	out.Reset()
	if code := replayFiles(files, &out, &errs); code != 0 || !strings.Contains(out.String(), "reproduced append-log-missing-barrier") {
		t.Fatalf("replay exit %d:\n%s%s", code, out.String(), errs.String())
	}
}

func TestSimRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-strategy", "nope"}, {"-profile", "nope"}, {"-workload", "("}, {"stray"}, {"-workload", "nothing-matches"}} {
		var out, errs bytes.Buffer
		if code := runSim(args, &out, &errs); code != 2 || errs.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs.String())
		}
	}
}

func TestReplayMissingFile(t *testing.T) {
	var out, errs bytes.Buffer
	if code := replayFiles([]string{filepath.Join("..", "..", "sim", "testdata", "missing.schedule")}, &out, &errs); code != 1 {
		t.Errorf("a missing file: exit %d", code)
	}
}
