// Command persy is persy-go's tool. sim runs the crash simulator over the
// workloads it knows and prints what it explored and found; replay replays
// the schedules a failure wrote:
//
//	persy sim [-time D | -checks N] [-seed S] [-parallel N] [-workload RE] [-profile P,...] [-strategy S,...] [-out DIR] [-failfast] [-progress MODE]
//	persy replay FILE...
//
// sim explores each row (a workload on a disk profile under a strategy)
// for its share of a budget in time (-time, by default about five
// minutes in all), or for a number of runs (-checks: the same runs for
// the same seed), several rows at once, each in a worker process (the
// same program, started with PERSY_SIM_WORKER set). It shows progress on
// standard error (a bar on a terminal, a line every 15 seconds
// otherwise), writes each failure's schedule and trace under -out, and
// ends with a table. A workload meant to be correct that fails, or one
// deliberately broken that is not caught, makes the exit status 1.
package main

import (
	"fmt"
	"os"

	"github.com/gopersy/persy/sim"
)

const usage = `usage:
  persy sim [flags]        explore crashes of every workload, print a table (persy sim -h)
  persy replay FILE...     replay schedules a failure wrote; same as persy sim -replay
`

func main() {
	if os.Getenv(workerEnv) != "" {
		sim.TuneGC()
		os.Exit(serveWorker(os.Stdin, os.Stdout))
	}
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	sim.TuneGC()
	switch os.Args[1] {
	case "sim":
		os.Exit(runSim(os.Args[2:], os.Stdout, os.Stderr))
	case "replay":
		os.Exit(replayFiles(os.Args[2:], os.Stdout, os.Stderr))
	}
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
