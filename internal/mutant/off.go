//go:build !mutants

package mutant

// On reports whether the seeded bug name is switched on: never, in a
// build without the "mutants" tag.
func On(name string) bool { return false }

// Active returns the seeded bug switched on, "" for none.
func Active() string { return "" }
