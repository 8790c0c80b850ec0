//go:build invariants

package invariant

// Enabled says the invariants build tag is set: violations panic.
const Enabled = true
