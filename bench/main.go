// Command bench measures persy-go beside bbolt and Pebble on the
// workloads of DESIGN section 8, each engine at its durable defaults.
//
// Every workload group runs in a fresh process per engine and round
// (the command runs itself with -worker), engines take turns within a
// round and the order turns each round, and everything a workload
// writes is read back and checked before its figures count. The table
// gives, per figure, the median over rounds of the absolute values and
// of the per-round ratio persy-go / peer, beside the machine's own
// limits measured in the same run.
//
//	go run . -rounds 3 -scale 1
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// metric describes one row of the table.
type metric struct {
	name, unit string
	higher     bool // higher is better
}

// metrics are the table's rows in order. A workload's result names
// them; "RSS" rows come from the worker process's peak resident set.
var metrics = []metric{
	{"B1 commits", "commits/s", true},
	{"B1 / msync limit", "ratio", true},
	{"B1 file", "MiB", false},
	{"B2 load", "records/s", true},
	{"B2 file", "MiB", false},
	{"open after close", "ms", false},
	{"heap after open", "MiB", false},
	{"B4 scan", "records/s", true},
	{"B3 reads, 1 goroutine", "reads/s", true},
	{"B3 reads, 2 goroutine", "reads/s", true},
	{"heap after reads", "MiB", false},
	{"records RSS", "MiB", false},
	{"B5 8 writers", "commits/s", true},
	{"B6 file at kill", "MiB", false},
	{"B6 open after kill", "ms", false},
	{"B6 open RSS", "MiB", false},
	{"B7 updates", "updates/s", true},
	{"B7 file", "MiB", false},
	{"index put", "ns/op", false},
	{"index get", "ns/op", false},
	{"index range 100", "ns/op", false},
	{"S1 crash states", "states/s", true},
}

func main() {
	var (
		rounds   = flag.Int("rounds", 3, "rounds; each runs every workload on every engine")
		scale    = flag.Float64("scale", 1, "multiplies every workload's size (1: 1,000,000 records)")
		indexN   = flag.Int("index-n", 0, "index keys (0: 200,000 × scale)")
		only     = flag.String("only", "", "regexp: run only the workload groups it matches ("+strings.Join(workloads, ", ")+")")
		engs     = flag.String("engines", strings.Join(engines, ","), "comma-separated engines")
		dirFlag  = flag.String("dir", "", "directory for the databases, on the disk to measure (default: a new one under the system's temporary directory)")
		worker   = flag.String("worker", "", "internal: run one workload group in this process")
		engineF  = flag.String("engine", "", "internal: the worker's engine")
		phase    = flag.String("phase", "", "internal: the worker's phase")
		jsonFlag = flag.Bool("json", false, "print the medians as JSON lines after the table")
	)
	flag.Parse()
	z := sizesAt(*scale, *indexN)
	if *worker != "" {
		r, err := work(*worker, *engineF, *dirFlag, z, *phase)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s on %s: %v\n", *worker, *engineF, err)
			os.Exit(1)
		}
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*rounds, *scale, *indexN, *only, *engs, *dirFlag, *jsonFlag); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(rounds int, scale float64, indexN int, only, engs, dir string, asJSON bool) error {
	var re *regexp.Regexp
	if only != "" {
		var err error
		if re, err = regexp.Compile(only); err != nil {
			return err
		}
	}
	es := strings.Split(engs, ",")
	for _, e := range es {
		if !slices.Contains(engines, e) {
			return fmt.Errorf("unknown engine %q (want some of %s)", e, strings.Join(engines, ", "))
		}
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "persy-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s/%s, %d CPUs, %s; databases on %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), fsType(dir))
	fmt.Printf("scale %g (%d records, %d index keys), %d rounds, engines %s\n", scale, sizesAt(scale, indexN).Records, sizesAt(scale, indexN).IndexN, rounds, strings.Join(es, ", "))
	// vals[metric][engine] holds one value per round.
	vals := map[string]map[string][]float64{}
	add := func(m, e string, v float64) {
		if vals[m] == nil {
			vals[m] = map[string][]float64{}
		}
		vals[m][e] = append(vals[m][e], v)
	}
	var limits []machineLimits
	start := time.Now()
	for round := range rounds {
		lim, err := measureLimits(dir)
		if err != nil {
			return fmt.Errorf("machine limits: %w", err)
		}
		limits = append(limits, lim)
		for _, g := range workloads {
			if re != nil && !re.MatchString(g) {
				continue
			}
			order := slices.Clone(es)
			// Turn the order each round so no engine always goes first.
			k := round % len(order)
			order = append(order[k:], order[:k]...)
			for _, e := range order {
				if g == "s1" && e != "persy" {
					continue
				}
				wd := filepath.Join(dir, fmt.Sprintf("r%d-%s-%s", round, g, e))
				if err := os.MkdirAll(wd, 0o755); err != nil {
					return err
				}
				r, rss, err := runWorker(self, g, e, wd, scale, indexN)
				if err != nil {
					return err
				}
				switch g {
				case "records":
					r["records RSS"] = rss
				case "crash":
					r["B6 open RSS"] = rss
				case "commits":
					r["B1 / msync limit"] = r["B1 commits"] / lim.msync
				}
				for m, v := range r {
					add(m, e, v)
				}
				if err := os.RemoveAll(wd); err != nil {
					return err
				}
			}
		}
		fmt.Printf("round %d of %d done after %s\n", round+1, rounds, time.Since(start).Round(time.Second))
	}
	printTable(vals, es, limits)
	if asJSON {
		for _, m := range metrics {
			for _, e := range es {
				if v := vals[m.name][e]; len(v) > 0 {
					line, _ := json.Marshal(map[string]any{"metric": m.name, "unit": m.unit, "engine": e, "median": median(v), "rounds": v})
					fmt.Println(string(line))
				}
			}
		}
	}
	return nil
}

// runWorker runs workload group g on engine e in a process of its own
// and returns its figures and the peak resident set of the process that
// did the measured work, in MiB. B6 takes two processes: one that writes
// and ends without closing, one that opens.
func runWorker(self, g, e, dir string, scale float64, indexN int) (result, float64, error) {
	phases := []string{""}
	if g == "crash" {
		phases = []string{"write", "open"}
	}
	out := result{}
	var rss float64
	for _, ph := range phases {
		cmd := exec.Command(self, "-worker", g, "-engine", e, "-dir", dir, "-phase", ph,
			"-scale", fmt.Sprint(scale), "-index-n", fmt.Sprint(indexN))
		var stdout strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return nil, 0, fmt.Errorf("%s on %s failed (%v): its figures do not count", g, e, err)
			}
			return nil, 0, err
		}
		var r result
		if err := json.Unmarshal([]byte(stdout.String()), &r); err != nil {
			return nil, 0, fmt.Errorf("%s on %s: %w", g, e, err)
		}
		for k, v := range r {
			out[k] = v
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = float64(ru.Maxrss) / 1024 // kilobytes on Linux
		}
	}
	return out, rss, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ratio is the median over rounds of persy-go / peer, each round's
// figures divided by each other.
func ratio(p, q []float64) (float64, bool) {
	n := min(len(p), len(q))
	if n == 0 {
		return 0, false
	}
	rs := make([]float64, 0, n)
	for i := range n {
		if q[i] == 0 {
			return 0, false
		}
		rs = append(rs, p[i]/q[i])
	}
	return median(rs), true
}

func printTable(vals map[string]map[string][]float64, es []string, limits []machineLimits) {
	var pw, ms []float64
	for _, l := range limits {
		pw, ms = append(pw, l.pwrite), append(ms, l.msync)
	}
	fmt.Printf("\nmachine limits (median of %d): 4 KiB pwrite+fdatasync %.0f/s, 4 KiB store+msync %.0f/s\n", len(limits), median(pw), median(ms))
	fmt.Println("ratios are persy-go / peer, the median of per-round ratios; a higher ratio is better on rows marked ↑, a lower one on rows marked ↓")
	fmt.Println()
	head := []string{"workload", "unit"}
	head = append(head, es...)
	for _, e := range es[1:] {
		head = append(head, es[0]+"/"+e)
	}
	rows := [][]string{head}
	for _, m := range metrics {
		byE := vals[m.name]
		if len(byE) == 0 {
			continue
		}
		dir := "↓"
		if m.higher {
			dir = "↑"
		}
		row := []string{m.name + " " + dir, m.unit}
		for _, e := range es {
			if v := byE[e]; len(v) > 0 {
				row = append(row, format(median(v)))
			} else {
				row = append(row, "-")
			}
		}
		for _, e := range es[1:] {
			if r, ok := ratio(byE[es[0]], byE[e]); ok {
				row = append(row, fmt.Sprintf("%.2fx", r))
			} else {
				row = append(row, "-")
			}
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(head))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	for k, r := range rows {
		var b strings.Builder
		b.WriteString("|")
		for i, c := range r {
			pad := widths[i] - len([]rune(c))
			if i < 2 {
				fmt.Fprintf(&b, " %s%s |", c, strings.Repeat(" ", pad))
			} else {
				fmt.Fprintf(&b, " %s%s |", strings.Repeat(" ", pad), c)
			}
		}
		fmt.Println(b.String())
		if k == 0 {
			b.Reset()
			b.WriteString("|")
			for i, w := range widths {
				if i < 2 {
					fmt.Fprintf(&b, "%s|", strings.Repeat("-", w+2))
				} else {
					fmt.Fprintf(&b, "%s:|", strings.Repeat("-", w+1))
				}
			}
			fmt.Println(b.String())
		}
	}
}

func format(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
