// Package scenario runs tests written as data files, in the layout of
// cockroachdb/datadriven: blocks of commands, one per line, then a line
// "----", then the output expected, and a blank line ending the block.
// Lines starting with # outside an expected output are comments. A test
// runs each command in order and compares what the block's commands
// print with what the file expects; with update set it rewrites the
// expected outputs instead, so that a change of output is reviewed as a
// diff of the file.
package scenario

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Block is a run of commands and the output they are expected to print.
// Cmds holds the comments among the commands too, in place, so that a
// rewritten file keeps them.
type Block struct {
	Cmds, Want []string
}

// comment reports whether a command line is a comment.
func comment(line string) bool { return strings.HasPrefix(line, "#") }

// Parse splits a scenario file into its blocks.
func Parse(data []byte) []Block {
	var (
		blocks []Block
		cur    Block
		inWant bool
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "----":
			inWant = true
		case inWant && line == "":
			blocks = append(blocks, cur)
			cur, inWant = Block{}, false
		case inWant:
			cur.Want = append(cur.Want, line)
		case line == "":
		default:
			cur.Cmds = append(cur.Cmds, line)
		}
	}
	if len(cur.Cmds) > 0 || inWant {
		blocks = append(blocks, cur)
	}
	return blocks
}

// RunDir runs every *.txt file under dir as a subtest of t, each with
// the commands newRun returns for it.
func RunDir(t *testing.T, dir string, update bool, newRun func(t *testing.T) func(cmd string) []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios under %s: %v", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { Run(t, f, update, newRun(t)) })
	}
}

// Run runs the scenario file at path, passing each command to run and
// comparing what it returns, line by line, with the file. With update,
// it rewrites the file's expected outputs with what the commands
// printed, unless a block failed otherwise.
func Run(t *testing.T, path string, update bool, run func(cmd string) []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, b := range Parse(data) {
		var got []string
		for _, c := range b.Cmds {
			if !comment(c) {
				got = append(got, run(c)...)
			}
		}
		for _, c := range b.Cmds {
			fmt.Fprintln(&out, c)
		}
		fmt.Fprintln(&out, "----")
		for _, g := range got {
			fmt.Fprintln(&out, g)
		}
		fmt.Fprintln(&out)
		if !update && strings.Join(got, "\n") != strings.Join(b.Want, "\n") {
			t.Errorf("%s:\n%s\ngot:\n%s\nwant:\n%s", path, strings.Join(b.Cmds, "\n"), strings.Join(got, "\n"), strings.Join(b.Want, "\n"))
		}
	}
	if update && !t.Failed() {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
