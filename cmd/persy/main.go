// Command persy is persy-go's tool. sim runs the crash simulator over the
// workloads it knows and prints what it explored and found; replay replays
// the schedules a failure wrote:
//
//	persy sim [-checks N] [-seed S] [-workload RE] [-profile P,...] [-strategy S,...] [-out DIR] [-failfast]
//	persy replay FILE...
//
// A workload meant to be correct that fails, or one deliberately broken
// that is not caught, makes the exit status 1.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/gopersy/persy/sim"
)

const usage = `usage:
  persy sim [flags]        explore crashes of every workload, print a table (persy sim -h)
  persy replay FILE...     replay schedules a failure wrote; same as persy sim -replay
`

// commands are the commands, each given its arguments, standard output
// and standard error, returning the exit status.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"sim":    runSim,
	"replay": replayFiles,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	run, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	if os.Args[1] == "sim" || os.Args[1] == "replay" {
		sim.TuneGC()
	}
	os.Exit(run(os.Args[2:], os.Stdout, os.Stderr))
}
