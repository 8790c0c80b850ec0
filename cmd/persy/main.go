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
//
// The other commands work on a database file:
//
//	persy check FILE
//	persy stats FILE
//	persy recover [--commit ID]... [--rollback ID]... FILE
//	persy dump [--json] [--segment | --index] FILE NAME
//
// check runs the full consistency check and prints every violation;
// stats prints the file's pages by kind, its free space, its journal,
// its segments and indexes and its prepared transactions; recover lists
// the transactions recovery finds and, given a decision for each
// prepared one, carries them out and finishes the recovery; dump prints
// the records of a segment, or the keys and values of an index, as text
// or as JSON lines. All but recover with decisions open the file
// read-only (a shared lock, recovery in memory) and never change it. A
// file another process holds, a file that is not a database and a
// violation found make the exit status 1; bad arguments make it 2.
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
  persy check FILE         check every page and index of a database; exit 1 on any violation
  persy stats FILE         pages by kind, free space, journal, segments, indexes, prepared transactions
  persy recover [--commit ID]... [--rollback ID]... FILE
                           list the transactions recovery finds; decide the prepared ones and recover
  persy dump [--json] [--segment | --index] FILE NAME
                           print the records of a segment or the entries of an index
`

// commands are the commands, each given its arguments, standard output
// and standard error, returning the exit status.
var commands = map[string]func(args []string, stdout, stderr io.Writer) int{
	"sim":     runSim,
	"replay":  replayFiles,
	"check":   runCheck,
	"stats":   runStats,
	"recover": runRecover,
	"dump":    runDump,
}

func main() {
	if os.Getenv(workerEnv) != "" {
		sim.TuneGC()
		os.Exit(serveWorker(os.Stdin, os.Stdout))
	}
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
