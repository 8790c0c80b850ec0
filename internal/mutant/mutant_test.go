package mutant

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestMakefileListsEverySeededBug: make mutants runs the bugs the
// Makefile lists; a bug missing there would never be shown caught.
func TestMakefileListsEverySeededBug(t *testing.T) {
	b, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	// The list may go on over lines ending in a backslash.
	b = bytes.ReplaceAll(b, []byte("\\\n"), []byte(" "))
	m := regexp.MustCompile(`(?m)^MUTANTS\s*:=(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the Makefile has no MUTANTS list")
	}
	if listed := strings.Fields(string(m[1])); !slices.Equal(listed, All()) {
		t.Fatalf("the Makefile's MUTANTS lists %v, the seeded bugs are %v", listed, All())
	}
}
