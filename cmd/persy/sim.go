package main

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gopersy/persy/internal/mutant"
	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/demo"
	"github.com/gopersy/persy/sim/diskmodel"
)

// workloads are the workloads the tool knows.
func workloads() []sim.Workload {
	return append(demo.Workloads(), properties.Workloads()...)
}

func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("persy sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	checks := fs.Int("checks", 100, "runs of each workload per profile and strategy")
	seed := fs.Uint64("seed", 0, "rapid's seed; 0 picks one and prints it")
	match := fs.String("workload", "", "run only the workloads whose name matches this regular expression")
	profiles := fs.String("profile", "", "comma-separated disk profiles, or all; default: all for correct workloads, linux-strict for broken ones")
	strategies := fs.String("strategy", "all", "comma-separated strategies, or all")
	out := fs.String("out", ".persy-sim", "directory for the schedules and traces of failures")
	replay := fs.Bool("replay", false, "replay the schedule files given as arguments")
	failfast := fs.Bool("failfast", false, "stop after the first row that goes wrong")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *checks <= 0 {
		fmt.Fprintf(stderr, "persy sim: -checks %d: want at least 1\n", *checks)
		return 2
	}
	if *replay {
		return replayFiles(fs.Args(), stdout, stderr)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "persy sim: unexpected arguments %q\n", fs.Args())
		return 2
	}
	re, err := regexp.Compile(*match)
	if err != nil {
		fmt.Fprintf(stderr, "persy sim: -workload: %v\n", err)
		return 2
	}
	sts, err := parseStrategies(*strategies)
	if err != nil {
		fmt.Fprintf(stderr, "persy sim: -strategy: %v\n", err)
		return 2
	}
	if *seed == 0 {
		var b [8]byte
		_, _ = crand.Read(b[:])
		*seed = binary.LittleEndian.Uint64(b[:])>>1 | 1
	}

	type row struct {
		rep     sim.Report
		broken  bool
		elapsed time.Duration
		path    string
	}
	var rows []row
	start := time.Now()
rows:
	for _, w := range workloads() {
		if !re.MatchString(w.Name) {
			continue
		}
		ps, err := parseProfiles(*profiles, w.Broken)
		if err != nil {
			fmt.Fprintf(stderr, "persy sim: -profile: %v\n", err)
			return 2
		}
		for _, p := range ps {
			for _, st := range sts {
				start := time.Now()
				rep := sim.Explore(sim.Config{Workload: w, Profile: p, Strategy: st, Checks: *checks, Seed: *seed})
				r := row{rep: rep, broken: w.Broken, elapsed: time.Since(start)}
				if rep.Minimal != nil {
					if r.path, err = rep.Minimal.WriteFiles(*out); err != nil {
						fmt.Fprintf(stderr, "persy sim: %v\n", err)
					}
				}
				rows = append(rows, r)
				if *failfast && (rep.Minimal != nil) != w.Broken {
					break rows
				}
			}
		}
	}
	if len(rows) == 0 {
		fmt.Fprintln(stderr, "persy sim: no workload matches")
		return 2
	}

	fmt.Fprintf(stdout, "persy sim: %d runs per row, seed %d (rerun with -seed %d)\n", *checks, *seed, *seed)
	if m := mutant.Active(); m != "" {
		fmt.Fprintf(stdout, "seeded bug %s switched on: every correct workload should fail somewhere\n", m)
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tprofile\tstrategy\truns\tyields\tcrash states\tstates/s\tfailures\tverdict\t")
	var runs, states, bad, dropped int64
	var total time.Duration
	for _, r := range rows {
		verdict := "clean"
		switch {
		case r.broken && r.rep.Minimal != nil:
			verdict = "caught"
		case r.broken:
			verdict, bad = "MISSED", bad+1
		case r.rep.Minimal != nil:
			verdict, bad = "FAILED", bad+1
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.0f\t%d\t%s\t\n", r.rep.Workload, r.rep.Profile, r.rep.Strategy,
			r.rep.Runs, r.rep.Yields, r.rep.States, float64(r.rep.States)/r.elapsed.Seconds(), r.rep.Failures, verdict)
		dropped += r.rep.DroppedVersions
		runs += int64(r.rep.Runs)
		states += r.rep.States
		total += r.elapsed
	}
	fmt.Fprintf(tw, "total\t\t\t%d\t\t%d\t%.0f\t\t\t\n", runs, states, float64(states)/total.Seconds())
	_ = tw.Flush()

	notes := map[string]bool{}
	for _, w := range workloads() {
		if w.Note != nil && re.MatchString(w.Name) && !notes[w.Name] {
			notes[w.Name] = true
			fmt.Fprintf(stdout, "\n%s: %s", w.Name, w.Note())
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(stdout)
	}
	if dropped > 0 {
		fmt.Fprintf(stdout, "\n%d sector versions dropped past %d per sector between barriers: crash states not explored\n", dropped, diskmodel.MaxVersionsPerUnit)
	}
	var found []string
	for _, r := range rows {
		if s := r.rep.Minimal; s != nil {
			found = append(found, fmt.Sprintf("%s on %s (%s): shrunk to %d decisions, crash at #%d: %s\n    %s",
				s.Workload, s.Profile, s.Strategy, s.Length(), s.Crash, s.Failure, r.path))
		}
	}
	if len(found) > 0 {
		fmt.Fprintf(stdout, "\nfailures found (replay with: go run ./cmd/persy replay FILE):\n")
		for _, f := range found {
			fmt.Fprintf(stdout, "  %s\n", f)
		}
	}
	if bad > 0 {
		fmt.Fprintf(stdout, "\n%d rows went wrong: a correct workload failed or a broken one was missed (after %s)\n", bad, time.Since(start).Round(time.Second))
		return 1
	}
	verdict := "every correct workload clean"
	if slices.ContainsFunc(rows, func(r row) bool { return r.broken }) {
		verdict += ", every broken one caught"
	}
	fmt.Fprintf(stdout, "\n%s\n", verdict)
	return 0
}

func replayFiles(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "persy sim -replay: no schedule files given")
		return 2
	}
	status := 0
	for _, f := range files {
		s, res, err := sim.ReplayFile(f, workloads())
		if res.Trace != "" {
			fmt.Fprintf(stdout, "== %s\n%s", f, res.Trace)
		}
		if err != nil {
			fmt.Fprintf(stderr, "persy sim: %v\n", err)
			status = 1
			continue
		}
		fmt.Fprintf(stdout, "reproduced %s: trace sha256 %s\n", s.Workload, res.SHA256)
	}
	return status
}

func parseStrategies(list string) ([]sim.Strategy, error) {
	if list == "all" {
		return sim.Strategies(), nil
	}
	var out []sim.Strategy
	for _, name := range strings.Split(list, ",") {
		s, err := sim.ParseStrategy(name)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func parseProfiles(list string, broken bool) ([]diskmodel.Profile, error) {
	switch {
	case list == "" && broken:
		return []diskmodel.Profile{diskmodel.LinuxStrict}, nil
	case list == "" || list == "all":
		return diskmodel.Profiles(), nil
	}
	var out []diskmodel.Profile
	for _, name := range strings.Split(list, ",") {
		p, err := diskmodel.ProfileByName(name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errors.New("no profile")
	}
	return out, nil
}
