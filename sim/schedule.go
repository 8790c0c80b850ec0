package sim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/gopersy/persy/sim/diskmodel"
)

// ScheduleVersion is the version of the schedule format Marshal writes and
// ParseSchedule reads.
const ScheduleVersion = 1

// NoCrash is the crash point of a failure found while running, with no
// crash involved.
const NoCrash = -1

// NoTrace is the trace hash of a schedule that did not replay when it was
// found: a nondeterministic run. ReplayFile reports it as such.
const NoTrace = "none"

// MaxScheduleBytes bounds the schedule files ParseSchedule accepts.
const MaxScheduleBytes = 64 << 20

// A Schedule is everything needed to replay one crash state: the
// workload, the disk profile, every decision of the run up to the crash,
// the yield it crashed at, and every decision of the crash image. With it
// go the failure it produced and the hash of its trace, which Replay
// reproduces.
type Schedule struct {
	Workload string
	Profile  string
	Strategy string // the strategy that found it; replay does not need it
	// Crash is the yield the machine crashed at, before that call took
	// effect; the number of yields for a crash after Run returned; NoCrash
	// for a failure of the run itself.
	Crash       int64
	Run         []diskmodel.Choice
	Image       []diskmodel.Choice
	Failure     string
	TraceSHA256 string
	// Trace is the readable trace; it is written beside the schedule, not
	// in it.
	Trace string

	cause error
}

// Cause is the error behind Failure when the schedule was just found, with
// its details (a panic's stack); nil for a parsed schedule.
func (s *Schedule) Cause() error { return s.cause }

// Length is the number of decisions in the schedule.
func (s *Schedule) Length() int { return len(s.Run) + len(s.Image) }

// simpler orders schedules shortlex: fewer decisions, then an earlier
// crash, then smaller decisions.
func (s *Schedule) simpler(o *Schedule) bool {
	if s.Length() != o.Length() {
		return s.Length() < o.Length()
	}
	if s.Crash != o.Crash {
		return s.Crash < o.Crash
	}
	values := func(s *Schedule) []int {
		var v []int
		for _, c := range slices.Concat(s.Run, s.Image) {
			v = append(v, c.Value)
		}
		return v
	}
	return slices.Compare(values(s), values(o)) < 0
}

// Marshal formats the schedule as its versioned text file.
func (s *Schedule) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "persy-sim schedule %d\n", ScheduleVersion)
	fmt.Fprintf(&b, "workload %s\n", s.Workload)
	fmt.Fprintf(&b, "profile %s\n", s.Profile)
	fmt.Fprintf(&b, "strategy %s\n", s.Strategy)
	fmt.Fprintf(&b, "crash %d\n", s.Crash)
	fmt.Fprintf(&b, "run %s\n", choicesText(s.Run))
	fmt.Fprintf(&b, "image %s\n", choicesText(s.Image))
	fmt.Fprintf(&b, "failure %s\n", strconv.Quote(s.Failure))
	fmt.Fprintf(&b, "trace-sha256 %s\n", s.TraceSHA256)
	return b.Bytes()
}

// choicesText formats choices as space-separated label/n=value.
func choicesText(cs []diskmodel.Choice) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(c.String())
	}
	return b.String()
}

// ParseSchedule reads a schedule file. It rejects anything but the exact
// format Marshal writes, with an error naming the line.
func ParseSchedule(data []byte) (*Schedule, error) {
	if len(data) > MaxScheduleBytes {
		return nil, fmt.Errorf("sim: schedule of %d bytes, more than %d", len(data), MaxScheduleBytes)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxScheduleBytes)
	keys := []string{"persy-sim", "workload", "profile", "strategy", "crash", "run", "image", "failure", "trace-sha256"}
	vals := make([]string, len(keys))
	line := 0
	for sc.Scan() {
		if line == len(keys) {
			return nil, fmt.Errorf("sim: schedule line %d: unexpected text after the last field", line+1)
		}
		key, val, _ := strings.Cut(sc.Text(), " ")
		if key != keys[line] {
			return nil, fmt.Errorf("sim: schedule line %d: want field %q, found %q", line+1, keys[line], key)
		}
		vals[line] = val
		line++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sim: schedule: %w", err)
	}
	if line < len(keys) {
		return nil, fmt.Errorf("sim: schedule ends at line %d, before field %q", line+1, keys[line])
	}
	if want := fmt.Sprintf("schedule %d", ScheduleVersion); vals[0] != want {
		return nil, fmt.Errorf("sim: schedule line 1: %q is not %q (a newer or foreign format)", vals[0], want)
	}
	s := &Schedule{Workload: vals[1], Profile: vals[2], Strategy: vals[3], TraceSHA256: vals[8]}
	for i, v := range []string{s.Workload, s.Profile, s.Strategy} {
		if !isWord(v) {
			return nil, fmt.Errorf("sim: schedule line %d: %q is not a name", i+2, v)
		}
	}
	crash, err := strconv.ParseInt(vals[4], 10, 64)
	if err != nil || crash < NoCrash {
		return nil, fmt.Errorf("sim: schedule line 5: bad crash point %q", vals[4])
	}
	s.Crash = crash
	if s.Run, err = parseChoices(vals[5]); err != nil {
		return nil, fmt.Errorf("sim: schedule line 6: %w", err)
	}
	if s.Image, err = parseChoices(vals[6]); err != nil {
		return nil, fmt.Errorf("sim: schedule line 7: %w", err)
	}
	if s.Failure, err = strconv.Unquote(vals[7]); err != nil {
		return nil, fmt.Errorf("sim: schedule line 8: the failure is not a quoted string: %w", err)
	}
	if s.TraceSHA256 != NoTrace && (len(s.TraceSHA256) != 64 || strings.Trim(s.TraceSHA256, "0123456789abcdef") != "") {
		return nil, fmt.Errorf("sim: schedule line 9: %q is not a SHA-256 in hex", s.TraceSHA256)
	}
	return s, nil
}

func parseChoices(text string) ([]diskmodel.Choice, error) {
	var cs []diskmodel.Choice
	for i, f := range strings.Fields(text) {
		c, err := parseChoice(f)
		if err != nil {
			return nil, fmt.Errorf("choice %d %q: %w", i, f, err)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func parseChoice(f string) (diskmodel.Choice, error) {
	label, rest, ok := strings.Cut(f, "/")
	if !ok || !isWord(label) || strings.ContainsAny(label, "/=") {
		return diskmodel.Choice{}, errors.New("want label/n=value")
	}
	ns, vs, ok := strings.Cut(rest, "=")
	if !ok {
		return diskmodel.Choice{}, errors.New("want label/n=value")
	}
	n, err1 := strconv.Atoi(ns)
	v, err2 := strconv.Atoi(vs)
	if err1 != nil || err2 != nil || n < 0 || v < 0 || v >= max(n, 1) {
		return diskmodel.Choice{}, errors.New("n and value must be integers with 0 <= value < n")
	}
	return diskmodel.Choice{Label: label, N: n, Value: v}, nil
}

func isWord(s string) bool {
	return s != "" && strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) < 0
}

// ReadSchedule reads the schedule file at path.
func ReadSchedule(path string) (*Schedule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	s, err := ParseSchedule(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// WriteFiles writes the schedule and its trace into dir as
// <workload>-<profile>-<hash>.schedule and .trace, and returns the
// schedule's path.
func (s *Schedule) WriteFiles(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	hash := s.TraceSHA256
	if hash == NoTrace {
		hash = fmt.Sprintf("notrace-%d", len(s.Failure))
	}
	if len(hash) > 12 {
		hash = hash[:12]
	}
	base := filepath.Join(dir, fmt.Sprintf("%s-%s-%s", s.Workload, s.Profile, hash))
	if err := os.WriteFile(base+".schedule", s.Marshal(), 0o644); err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	if err := os.WriteFile(base+".trace", []byte(s.Trace), 0o644); err != nil {
		return "", fmt.Errorf("sim: %w", err)
	}
	return base + ".schedule", nil
}
