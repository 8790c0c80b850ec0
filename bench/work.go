package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/gopersy/persy"
	"github.com/gopersy/persy/properties"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// sizes are the workloads' sizes at a scale.
type sizes struct {
	Records  int // B2, B3, B4: records loaded
	PerTx    int // B2: records per transaction
	Reads    int // B3: reads per goroutine count
	Commits  int // B1: durable one-record commits
	Writers  int // B5: concurrent writers
	PerWrite int // B5: commits per writer
	Crash    int // B6: commits before the kill
	Live     int // B7: live records
	Updates  int // B7: updates, 1,000 to a transaction
	IndexN   int // index keys
	Ranges   int // 100-key ranges
	SimRuns  int // S1: rapid runs
}

func sizesAt(scale float64, indexN int) sizes {
	n := func(base int) int { return max(int(float64(base)*scale), 1) }
	z := sizes{
		Records: n(1_000_000), PerTx: 10_000, Reads: n(200_000),
		Commits: n(2_000), Writers: 8, PerWrite: n(250),
		Crash: n(10_000), Live: 10_000, Updates: n(1_000_000),
		IndexN: n(200_000), Ranges: n(20_000), SimRuns: n(20),
	}
	if indexN > 0 {
		z.IndexN = indexN
	}
	return z
}

// result is what a worker reports: metric name to value.
type result map[string]float64

// workloads are the worker groups, each run in a process of its own per
// engine and round. A group's metrics are listed in metrics.
var workloads = []string{"records", "commits", "crash", "updates", "index", "s1"}

// work runs group g on engine e in dir and returns its figures. It
// fails when anything read back is not what was written.
func work(g, e, dir string, z sizes, phase string) (result, error) {
	switch g {
	case "records":
		return workRecords(e, dir, z)
	case "commits":
		return workCommits(e, dir, z)
	case "crash":
		if phase == "write" {
			return workCrashWrite(e, dir, z)
		}
		return workCrashOpen(e, dir, z)
	case "updates":
		return workUpdates(e, dir, z)
	case "index":
		return workIndex(e, dir, z)
	case "s1":
		return workS1(e, z)
	}
	return nil, fmt.Errorf("unknown workload %q", g)
}

func perSec(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// dirBytes is the space the files under dir take on disk.
func dirBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

func heapMiB() float64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return mib(int64(ms.HeapInuse))
}

// harnessMiB is the heap the harness itself holds for s: persy-go's
// record ids, which it hands out and the harness keeps by record number
// (16 MiB for 1,000,000 records), where bbolt's and Pebble's keys are
// computed. The heap rows leave it out, so that they measure the engine.
func harnessMiB(s store) float64 {
	if p, ok := s.(*persyStore); ok {
		return mib(int64(cap(p.ids)) * int64(unsafe.Sizeof(persy.RecordID{})))
	}
	return 0
}

// checkValue reports whether v is version ver of some record, and which.
func checkValue(v []byte, ver int) (int, error) {
	if len(v) != valueBytes {
		return 0, fmt.Errorf("a value of %d bytes, want %d", len(v), valueBytes)
	}
	i := int(binary.BigEndian.Uint64(v))
	if !bytes.Equal(v, value(i, ver)) {
		return 0, fmt.Errorf("record %d does not read back as written", i)
	}
	return i, nil
}

// scanAll scans s and checks it holds exactly records 0..n-1 at ver.
func scanAll(s store, n, ver int) error {
	seen := make([]bool, n)
	count := 0
	var bad error
	err := s.scan(func(v []byte) {
		i, err := checkValue(v, ver)
		if err == nil && (i >= n || seen[i]) {
			err = fmt.Errorf("record %d read twice or never written", i)
		}
		if err != nil {
			bad = err
			return
		}
		seen[i] = true
		count++
	})
	if err == nil {
		err = bad
	}
	if err == nil && count != n {
		err = fmt.Errorf("scan read %d records, want %d", count, n)
	}
	return err
}

// workRecords is B2 (bulk load), open after close, B4 (full scan) and
// B3 (random reads by record, one and two goroutines).
func workRecords(e, dir string, z sizes) (result, error) {
	r := result{}
	s, err := openStore(e, dir)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	if err := s.load(0, z.Records, z.PerTx); err != nil {
		return nil, err
	}
	r["B2 load"] = perSec(z.Records, time.Since(t))
	// Reopen keeps persy-go's record ids: they live in this process.
	var keep *persyStore
	if p, ok := s.(*persyStore); ok {
		keep = p
	}
	if err := s.close(); err != nil {
		return nil, err
	}
	size, err := dirBytes(dir)
	if err != nil {
		return nil, err
	}
	r["B2 file"] = mib(size)
	t = time.Now()
	if s, err = openStore(e, dir); err != nil {
		return nil, err
	}
	r["open after close"] = float64(time.Since(t).Microseconds()) / 1000
	if keep != nil {
		s.(*persyStore).ids = keep.ids
		keep.ids = nil
	}
	r["heap after open"] = heapMiB() - harnessMiB(s)
	t = time.Now()
	if err := scanAll(s, z.Records, 0); err != nil {
		return nil, err
	}
	r["B4 scan"] = perSec(z.Records, time.Since(t))
	for _, g := range []int{1, 2} {
		var wg sync.WaitGroup
		errs := make([]error, g)
		t = time.Now()
		for w := range g {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 3))
				for range z.Reads {
					i := rng.IntN(z.Records)
					v, err := s.get(i)
					if err == nil && !bytes.Equal(v, value(i, 0)) {
						err = fmt.Errorf("record %d does not read back as written", i)
					}
					if err != nil {
						errs[w] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := firstErr(errs); err != nil {
			return nil, err
		}
		r[fmt.Sprintf("B3 reads, %d goroutine", g)] = perSec(g*z.Reads, time.Since(t))
	}
	r["heap after reads"] = heapMiB() - harnessMiB(s)
	return r, s.close()
}

func firstErr(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// workCommits is B1 (durable one-record commits, one writer) and B5
// (concurrent writers), each on a fresh database.
func workCommits(e, dir string, z sizes) (result, error) {
	r := result{}
	d1 := filepath.Join(dir, "b1")
	if err := os.MkdirAll(d1, 0o755); err != nil {
		return nil, err
	}
	s, err := openStore(e, d1)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	for i := range z.Commits {
		if err := s.commitOne(i); err != nil {
			return nil, err
		}
	}
	r["B1 commits"] = perSec(z.Commits, time.Since(t))
	if err := scanAll(s, z.Commits, 0); err != nil {
		return nil, err
	}
	if err := s.close(); err != nil {
		return nil, err
	}
	size, err := dirBytes(d1)
	if err != nil {
		return nil, err
	}
	r["B1 file"] = mib(size)

	d5 := filepath.Join(dir, "b5")
	if err := os.MkdirAll(d5, 0o755); err != nil {
		return nil, err
	}
	if s, err = openStore(e, d5); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, z.Writers)
	t = time.Now()
	for w := range z.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range z.PerWrite {
				if err := s.commitOne(w*z.PerWrite + j); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := firstErr(errs); err != nil {
		return nil, err
	}
	r["B5 8 writers"] = perSec(z.Writers*z.PerWrite, time.Since(t))
	if err := scanAll(s, z.Writers*z.PerWrite, 0); err != nil {
		return nil, err
	}
	return r, s.close()
}

// workCrashWrite is B6's first half: durable commits, then the process
// ends without closing anything, as a kill would end it.
func workCrashWrite(e, dir string, z sizes) (result, error) {
	s, err := openStore(e, dir)
	if err != nil {
		return nil, err
	}
	for i := range z.Crash {
		if err := s.commitOne(i); err != nil {
			return nil, err
		}
	}
	size, err := dirBytes(dir)
	if err != nil {
		return nil, err
	}
	return result{"B6 file at kill": mib(size)}, nil
}

// workCrashOpen is B6's second half, in a new process: open the killed
// database, timed, and read every record back.
func workCrashOpen(e, dir string, z sizes) (result, error) {
	t := time.Now()
	s, err := openStore(e, dir)
	if err != nil {
		return nil, err
	}
	r := result{"B6 open after kill": float64(time.Since(t).Microseconds()) / 1000}
	if err := scanAll(s, z.Crash, 0); err != nil {
		return nil, err
	}
	return r, s.close()
}

// workUpdates is B7: updates spread at random over a small set of live
// records, 1,000 to a transaction; the space left after is the figure.
func workUpdates(e, dir string, z sizes) (result, error) {
	s, err := openStore(e, dir)
	if err != nil {
		return nil, err
	}
	if err := s.load(0, z.Live, z.PerTx); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(7, 7))
	t := time.Now()
	ver := 0
	for done := 0; done < z.Updates; done += 1000 {
		ver++
		if err := s.update(rng.Perm(z.Live)[:min(1000, z.Updates-done, z.Live)], ver); err != nil {
			return nil, err
		}
	}
	r := result{"B7 updates": perSec(z.Updates, time.Since(t))}
	// Bring every record to the last version, then check them all.
	all := make([]int, z.Live)
	for i := range all {
		all[i] = i
	}
	ver++
	for i := 0; i < len(all); i += 1000 {
		if err := s.update(all[i:min(i+1000, len(all))], ver); err != nil {
			return nil, err
		}
	}
	if err := scanAll(s, z.Live, ver); err != nil {
		return nil, err
	}
	if err := s.close(); err != nil {
		return nil, err
	}
	size, err := dirBytes(dir)
	if err != nil {
		return nil, err
	}
	r["B7 file"] = mib(size)
	return r, nil
}

// workIndex puts random uint64 keys, 10,000 to a transaction, reads
// each back in another order, and reads 100-key ranges from random keys.
func workIndex(e, dir string, z sizes) (result, error) {
	s, err := openStore(e, dir)
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(11, 13))
	keys := make([]uint64, z.IndexN)
	seen := make(map[uint64]bool, z.IndexN)
	for i := range keys {
		k := rng.Uint64()
		for seen[k] {
			k = rng.Uint64()
		}
		seen[k], keys[i] = true, k
	}
	r := result{}
	t := time.Now()
	if err := s.ixPut(keys, 10_000); err != nil {
		return nil, err
	}
	r["index put"] = float64(time.Since(t).Nanoseconds()) / float64(z.IndexN)
	order := rng.Perm(z.IndexN)
	t = time.Now()
	for _, j := range order {
		v, ok, err := s.ixGet(keys[j])
		if err != nil {
			return nil, err
		}
		if !ok || v != ^keys[j] {
			return nil, fmt.Errorf("index key %d reads (%d, %v), want %d", keys[j], v, ok, ^keys[j])
		}
	}
	r["index get"] = float64(time.Since(t).Nanoseconds()) / float64(z.IndexN)
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	t = time.Now()
	for range z.Ranges {
		j := rng.IntN(len(sorted))
		c, err := s.ixRange(sorted[j], 100)
		if err != nil {
			return nil, err
		}
		if want := min(100, len(sorted)-j); c != want {
			return nil, fmt.Errorf("a range from key %d read %d entries, want %d", sorted[j], c, want)
		}
	}
	r["index range 100"] = float64(time.Since(t).Nanoseconds()) / float64(z.Ranges)
	return r, s.close()
}

// workS1 is S1, persy-go only: crash states of the engine workload
// materialized, recovered and fully checked per second, on linux-strict.
func workS1(e string, z sizes) (result, error) {
	if e != "persy" {
		return result{}, nil
	}
	sim.TuneGC()
	t := time.Now()
	rep := sim.Explore(sim.Config{Workload: properties.Engine(), Profile: diskmodel.LinuxStrict, Strategy: sim.Barriers, Checks: z.SimRuns, Seed: 1})
	el := time.Since(t)
	if rep.Minimal != nil {
		return nil, fmt.Errorf("S1: the engine workload failed: %v", rep.Minimal.Failure)
	}
	if rep.States == 0 {
		return nil, fmt.Errorf("S1: no crash state explored")
	}
	return result{"S1 crash states": float64(rep.States) / el.Seconds()}, nil
}
