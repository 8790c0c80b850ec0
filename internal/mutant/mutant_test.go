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
	for _, list := range []struct {
		name string
		bugs []string
	}{{"MUTANTS", All()}, {"MUTANTS_UNIT", UnitOnly()}} {
		m := regexp.MustCompile(`(?m)^` + list.name + `\s*:=(.*)$`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("the Makefile has no %s list", list.name)
		}
		if listed := strings.Fields(string(m[1])); !slices.Equal(listed, list.bugs) {
			t.Fatalf("the Makefile's %s lists %v, the seeded bugs are %v", list.name, listed, list.bugs)
		}
	}
}
