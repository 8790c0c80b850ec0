//go:build mutants

package mutant

import (
	"fmt"
	"os"
	"slices"
	"sync"
)

// active reads the seeded bug PERSY_MUTANT names, once, at first use
// rather than at start, so that go test's cache sees the variable read.
var active = sync.OnceValue(func() string {
	name := os.Getenv("PERSY_MUTANT")
	if name != "" && !slices.Contains(All(), name) {
		panic(fmt.Sprintf("mutant: PERSY_MUTANT=%q names no seeded bug; the bugs are %v", name, All()))
	}
	return name
})

// On reports whether the seeded bug name is switched on.
func On(name string) bool { return name == active() }

// Active returns the seeded bug switched on, "" for none.
func Active() string { return active() }
