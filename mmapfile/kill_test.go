//go:build linux

package mmapfile_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopersy/persy/mmapfile"
)

// The kill test runs a writer in a child process (this test binary, run
// with killChildEnv naming the file), kills it with SIGKILL after it has
// reported some records synced, and checks every reported record in the
// file. Process death drops nothing the page cache holds, so this checks
// the real mapping, growth and reopening, not power-loss durability; the
// simulated disk covers that.
const (
	killChildEnv = "PERSY_KILL_CHILD"
	// killRegionBytes is small so the child crosses a region every 16
	// records.
	killRegionBytes = 64 << 10
	// killGrowBytes is deliberately not a multiple of the region size.
	killGrowBytes = 11 * mmapfile.PageBytes
	recordMagic   = "persykil"
)

var killCRC = crc32.MakeTable(crc32.Castagnoli)

// record returns the page the child writes at page i: magic, index,
// a pattern, and a CRC32C of the rest.
func record(i int) []byte {
	p := make([]byte, mmapfile.PageBytes)
	copy(p, recordMagic)
	binary.LittleEndian.PutUint64(p[8:], uint64(i))
	for j := 16; j < len(p)-4; j++ {
		p[j] = byte(i*131 + j*7 + j>>8)
	}
	binary.LittleEndian.PutUint32(p[len(p)-4:], crc32.Checksum(p[:len(p)-4], killCRC))
	return p
}

// validRecords returns how many records, from page 0 on, are intact.
func validRecords(s mmapfile.Storage) int {
	n := 0
	for int64(n+1)*mmapfile.PageBytes <= s.Size() {
		if !bytes.Equal(s.Bytes(int64(n)*mmapfile.PageBytes, mmapfile.PageBytes), record(n)) {
			break
		}
		n++
	}
	return n
}

// TestKillChild is the child side of TestKillDuringWrites, not a test of
// its own.
func TestKillChild(t *testing.T) {
	path := os.Getenv(killChildEnv)
	if path == "" {
		t.Skip("child process of TestKillDuringWrites only")
	}
	err := killChild(path)
	fmt.Fprintln(os.Stderr, "kill child:", err)
	os.Exit(2)
}

// killChild appends records after the valid ones until it is killed,
// printing "synced i" once record i's barrier has returned.
func killChild(path string) error {
	o := mmapfile.Options{RegionBytes: killRegionBytes}
	f, err := mmapfile.Open(path, o)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = mmapfile.Create(path, o)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	start := validRecords(f)
	if _, err := fmt.Printf("start %d\n", start); err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := start; time.Now().Before(deadline); i++ {
		off := int64(i) * mmapfile.PageBytes
		grew := false
		if off+mmapfile.PageBytes > f.Size() {
			if err := f.Grow(f.Size() + killGrowBytes); err != nil {
				return err
			}
			grew = true
		}
		if err := f.WriteAt(record(i), off); err != nil {
			return err
		}
		// SyncRange does not cover the file size: after a Grow, and
		// every few records, use the full barrier.
		if grew || i%5 == 0 {
			err = f.Sync()
		} else {
			err = f.SyncRange(off, mmapfile.PageBytes)
		}
		if err != nil {
			return err
		}
		// os.Stdout is unbuffered: the line is in the pipe on return.
		if _, err := fmt.Printf("synced %d\n", i); err != nil {
			return err
		}
	}
	return errors.New("not killed before the deadline")
}

func TestKillDuringWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	synced := 0 // records reported synced over all rounds so far
	// How many records each round's child reports before it is killed.
	for round, killAfter := range []int{137, 61, 211} {
		start, last := runAndKill(t, path, killAfter)
		if start < synced {
			t.Fatalf("round %d: the child found %d valid records, %d were reported synced", round, start, synced)
		}
		synced = last + 1
		t.Logf("round %d: child appended from record %d, killed after reporting record %d synced", round, start, last)

		f, err := mmapfile.Open(path, mmapfile.Options{RegionBytes: killRegionBytes})
		if err != nil {
			t.Fatalf("round %d: Open after SIGKILL: %v", round, err)
		}
		if f.Size() < int64(synced)*mmapfile.PageBytes {
			t.Fatalf("round %d: file of %d bytes cannot hold the %d records reported synced", round, f.Size(), synced)
		}
		for i := range synced {
			if got := f.Bytes(int64(i)*mmapfile.PageBytes, mmapfile.PageBytes); !bytes.Equal(got, record(i)) {
				t.Fatalf("round %d: record %d of %d reported synced is damaged", round, i, synced)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// runAndKill runs a child writer on path, kills it once it has reported
// killAfter records synced, and returns the first record it wrote and the
// last it reported.
func runAndKill(t *testing.T, path string, killAfter int) (start, last int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1", "-test.timeout=60s")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
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
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()

	start, last = -1, -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "start "); ok && start < 0 {
			if start, err = strconv.Atoi(s); err != nil {
				break
			}
			last = start - 1
			continue
		}
		s, ok := strings.CutPrefix(line, "synced ")
		if !ok || start < 0 {
			continue
		}
		i, err := strconv.Atoi(s)
		if err != nil || i != last+1 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child reported %q after record %d", line, last)
		}
		last = i
		if last-start+1 >= killAfter {
			break
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	if start < 0 || last-start+1 < killAfter {
		t.Fatalf("child stopped after reporting records [%d, %d], want %d: %v\n%s", start, last, killAfter, werr, stderr.Bytes())
	}
	return start, last
}
