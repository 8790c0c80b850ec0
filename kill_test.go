//go:build linux

package persy_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopersy/persy"
)

// The kill test runs a committer in a child process (this test binary,
// run with killTxChildEnv naming the database file), kills it with
// SIGKILL after it has acknowledged some commits, recovers the file,
// commits what recovery finds prepared, and checks that every
// acknowledged record is there, once and intact, and nothing else but
// the records that were in flight. Process death drops nothing the page
// cache holds, so this checks the journal, recovery and checkpoints of a
// real file after an abrupt end, not power-loss durability; the crash
// simulator covers that.
const (
	killTxChildEnv = "PERSY_TX_KILL_CHILD"
	killSegment    = "log"
	// killTwoPhaseEvery: record n is committed in two phases, under
	// the id "xa-<n>", when n is a multiple of it.
	killTwoPhaseEvery = 5
	// killChildTimeout bounds a child's life: the child stops on its
	// own after it, and the parent kills it and fails.
	killChildTimeout = 20 * time.Second
)

var killCastagnoli = crc32.MakeTable(crc32.Castagnoli)

// logRecord returns record n's content: "rec-<n>|", a pattern of a length
// that depends on n (some records span larger data pages), and a CRC32C
// of the rest.
func logRecord(n int) []byte {
	size := 16 + n*97%700
	if n%7 == 3 {
		size += 6000
	}
	b := fmt.Appendf(nil, "rec-%d|", n)
	for j := range size {
		b = append(b, byte(n*131+j*7+j>>8))
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, killCastagnoli))
}

// parseLogRecord returns the n of a record, which must be exactly
// logRecord(n).
func parseLogRecord(data []byte) (int, error) {
	rest, ok := bytes.CutPrefix(data, []byte("rec-"))
	i := bytes.IndexByte(rest, '|')
	if !ok || i < 0 {
		return 0, fmt.Errorf("not a log record: %q", data[:min(len(data), 32)])
	}
	n, err := strconv.Atoi(string(rest[:i]))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("not a log record: %q", data[:min(len(data), 32)])
	}
	if !bytes.Equal(data, logRecord(n)) {
		return n, fmt.Errorf("record %d is damaged: %d bytes, want %d", n, len(data), len(logRecord(n)))
	}
	return n, nil
}

// TestKillTxChild is the child side of TestKillRecoversAcknowledgedCommits,
// not a test of its own.
func TestKillTxChild(t *testing.T) {
	path := os.Getenv(killTxChildEnv)
	if path == "" {
		t.Skip("child process of TestKillRecoversAcknowledgedCommits only")
	}
	err := killTxChild(path)
	fmt.Fprintln(os.Stderr, "kill child:", err)
	os.Exit(2)
}

// killTxChild appends record n, n+1, ... after the n records the segment
// holds, one transaction each, until it is killed. It prints "start n"
// first, "prepared n" once record n's prepare returned and "acked n"
// once its commit returned. os.Stdout is unbuffered: a line is in the
// pipe when Printf returns.
func killTxChild(path string) error {
	// A small checkpoint threshold makes the child checkpoint every few
	// records, so kills also land in and between checkpoints.
	db, err := persy.OpenOrCreate(path, persy.Options{CheckpointBytes: 8 << 10}, func(tx *persy.Tx) error {
		return tx.CreateSegment(killSegment)
	})
	if err != nil {
		return err
	}
	defer db.Close()
	start := 0
	err = db.View(func(s *persy.Snapshot) error {
		for _, err := range s.Scan(killSegment) {
			if err != nil {
				return err
			}
			start++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := fmt.Printf("start %d\n", start); err != nil {
		return err
	}
	deadline := time.Now().Add(killChildTimeout)
	for n := start; time.Now().Before(deadline); n++ {
		twoPhase := n%killTwoPhaseEvery == 0
		var o persy.TxOptions
		if twoPhase {
			o.ID = fmt.Appendf(nil, "xa-%d", n)
		}
		tx, err := db.Begin(o)
		if err != nil {
			return err
		}
		if _, err := tx.Insert(killSegment, logRecord(n)); err != nil {
			return err
		}
		if twoPhase {
			p, err := tx.Prepare()
			if err != nil {
				return err
			}
			if _, err := fmt.Printf("prepared %d\n", n); err != nil {
				return err
			}
			if err := p.Commit(); err != nil {
				return err
			}
		} else if err := tx.Commit(); err != nil {
			return err
		}
		if _, err := fmt.Printf("acked %d\n", n); err != nil {
			return err
		}
	}
	return errors.New("not killed before the deadline")
}

// killRun is what the parent read of one child before killing it.
type killRun struct {
	start    int   // the records the child found
	acked    []int // in order
	prepared []int // in order
}

func (r *killRun) lastAcked() int {
	if len(r.acked) == 0 {
		return r.start - 1
	}
	return r.acked[len(r.acked)-1]
}

// runTxChild runs a child committer on path and kills it once it has
// acknowledged killAfter records, or, with atPrepare, at the first
// prepare it reports after those.
func runTxChild(t *testing.T, path string, killAfter int, atPrepare bool) killRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillTxChild$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), killTxChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A child that hangs is killed, which ends the scan below.
	var timedOut atomic.Bool
	timer := time.AfterFunc(killChildTimeout, func() {
		timedOut.Store(true)
		cmd.Process.Kill()
	})
	defer timer.Stop()

	r := killRun{start: -1}
	var bad string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "start "); ok && r.start < 0 {
			if r.start, err = strconv.Atoi(s); err != nil {
				bad = line
				break
			}
			continue
		}
		if r.start < 0 {
			continue
		}
		var n int
		if s, ok := strings.CutPrefix(line, "prepared "); ok {
			if n, err = strconv.Atoi(s); err != nil || n != r.lastAcked()+1 || n%killTwoPhaseEvery != 0 {
				bad = line
				break
			}
			r.prepared = append(r.prepared, n)
			if atPrepare && len(r.acked) >= killAfter {
				break
			}
			continue
		}
		s, ok := strings.CutPrefix(line, "acked ")
		if !ok {
			continue
		}
		if n, err = strconv.Atoi(s); err != nil || n != r.lastAcked()+1 {
			bad = line
			break
		}
		r.acked = append(r.acked, n)
		if !atPrepare && len(r.acked) >= killAfter {
			break
		}
	}
	killErr := cmd.Process.Kill()
	werr := cmd.Wait()
	if bad != "" {
		t.Fatalf("child reported %q after acknowledging up to record %d\n%s", bad, r.lastAcked(), stderr.Bytes())
	}
	if killErr != nil {
		t.Fatalf("kill: %v", killErr)
	}
	if timedOut.Load() {
		t.Fatalf("child still running after %v, killed\n%s", killChildTimeout, stderr.Bytes())
	}
	if r.start < 0 || len(r.acked) < killAfter {
		t.Fatalf("child stopped after acknowledging %d records, want %d: %v\n%s", len(r.acked), killAfter, werr, stderr.Bytes())
	}
	if bytes.Contains(stderr.Bytes(), []byte("DATA RACE")) {
		t.Fatalf("the child found a data race:\n%s", stderr.Bytes())
	}
	return r
}

// checkLog checks that segment log of db holds records 0 to k-1, each
// once and intact, and returns k.
func checkLog(t *testing.T, db *persy.DB) int {
	t.Helper()
	var ns []int
	err := db.View(func(s *persy.Snapshot) error {
		seen := map[int]persy.RecordID{}
		for r, err := range s.Scan(killSegment) {
			if err != nil {
				return err
			}
			n, err := parseLogRecord(r.Data)
			if err != nil {
				return fmt.Errorf("record %v: %w", r.ID, err)
			}
			if id, dup := seen[n]; dup {
				return fmt.Errorf("record %d twice: %v and %v", n, id, r.ID)
			}
			seen[n] = r.ID
			ns = append(ns, n)
		}
		for n := range len(ns) {
			if _, ok := seen[n]; !ok {
				return fmt.Errorf("%d records, record %d missing: the records are not 0 to %d", len(ns), n, len(ns)-1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(ns)
}

func TestKillRecoversAcknowledgedCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	const rounds = 5
	count := 0     // records checked after the last round
	mustHave := -1 // every record up to this one was acknowledged or prepared
	for round := range rounds {
		// Odd rounds kill at a prepare: the transaction is then often
		// prepared and undecided in the file.
		killAfter, atPrepare := 3+2*round, round%2 == 1
		r := runTxChild(t, path, killAfter, atPrepare)
		if r.start != count {
			t.Fatalf("round %d: the child found %d records, %d were checked", round, r.start, count)
		}
		mustHave = max(mustHave, r.lastAcked())
		if len(r.prepared) > 0 {
			mustHave = max(mustHave, r.prepared[len(r.prepared)-1])
		}

		rec, err := persy.OpenRecover(path, persy.Options{})
		if err != nil {
			t.Fatalf("round %d: OpenRecover after SIGKILL: %v", round, err)
		}
		statuses := map[persy.Status]int{}
		var decided []string
		for _, tx := range rec.Transactions() {
			statuses[tx.Status]++
			if tx.Status != persy.StatusPrepared {
				continue
			}
			// Only the record in flight can be undecided, and only
			// one committed in two phases.
			n, err := strconv.Atoi(strings.TrimPrefix(string(tx.ID), "xa-"))
			if err != nil || !strings.HasPrefix(string(tx.ID), "xa-") || n%killTwoPhaseEvery != 0 || n <= r.lastAcked() {
				t.Errorf("round %d: transaction %q prepared, after record %d was acknowledged", round, tx.ID, r.lastAcked())
			}
			if err := rec.Commit(tx.ID); err != nil {
				t.Fatalf("round %d: commit %q: %v", round, tx.ID, err)
			}
			decided = append(decided, string(tx.ID))
		}
		db, err := rec.Finish()
		if err != nil {
			t.Fatalf("round %d: Finish: %v", round, err)
		}
		if len(decided) > 1 {
			t.Errorf("round %d: %d transactions prepared: %q", round, len(decided), decided)
		}
		count = checkLog(t, db)
		if count <= mustHave {
			t.Errorf("round %d: %d records, record %d was acknowledged or prepared", round, count, mustHave)
		}
		if err := db.Check(); err != nil {
			t.Errorf("round %d: Check after recovery: %v", round, err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("round %d: Close: %v", round, err)
		}
		t.Logf("round %d: child started at record %d, acknowledged up to %d, prepared %v; recovery found %v, committed %q; %d records",
			round, r.start, r.lastAcked(), r.prepared, statuses, decided, count)
		if t.Failed() {
			t.FailNow()
		}
	}

	// The recovered file opens as it was left.
	db, err := persy.Open(path, persy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := checkLog(t, db); got != count {
		t.Errorf("reopened: %d records, want %d", got, count)
	}
	if err := db.Check(); err != nil {
		t.Errorf("Check after reopening: %v", err)
	}
}
