//go:build race

package sim_test

// raceEnabled: the race detector slows the single-goroutine simulation
// tenfold and finds nothing in it; explorations shrink under it.
const raceEnabled = true
