package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gopersy/persy/sim/diskmodel"
)

// TraceVersion is the version of the trace format.
const TraceVersion = 1

// Result is what replaying a schedule did.
type Result struct {
	// Trace is the readable account of the replay: every call at a yield
	// point, the crash, the image's decisions and hash, the check's
	// verdict. It holds nothing that differs between machines.
	Trace string
	// SHA256 is the hash of Trace in hex.
	SHA256 string
	// Failure is the failure reproduced, "" if the check passed.
	Failure string
	// Cause is the error behind Failure, with its details.
	Cause error
	// Image is the crash image's account in words: the size it kept, and
	// for each page with writes no barrier covered whether the crash lost
	// it, persisted it or tore it, with the version each sector holds,
	// and the media fault. It explains the trace's image decisions and is
	// not part of the trace, so that the hashes of schedules written
	// before it stay valid.
	Image []string
}

// narrating is a Chooser that keeps the crash image's account.
type narrating struct {
	diskmodel.Chooser
	lines []string
}

func (n *narrating) Narrate(line string) { n.lines = append(n.lines, line) }

// Replay runs the schedule against w, which must be the workload it names,
// and returns the trace. It fails if the schedule no longer fits the
// workload: a decision asked that the schedule does not hold, or one it
// holds that is never asked.
func Replay(s *Schedule, w Workload) (Result, error) { return replay(s, w, true) }

// replay is Replay; unless exact, it allows the run's recorded decisions
// to go on past the crash, unused.
func replay(s *Schedule, w Workload, exact bool) (Result, error) {
	if s.Workload != w.Name {
		return Result{}, fmt.Errorf("sim: the schedule is for workload %q, not %q", s.Workload, w.Name)
	}
	profile, err := diskmodel.ProfileByName(s.Profile)
	if err != nil {
		return Result{}, fmt.Errorf("sim: replay: %w", err)
	}
	cfg := Config{Workload: w, Profile: profile}.withDefaults()
	run := &diskmodel.Replay{Choices: s.Run}
	image := &diskmodel.Replay{Choices: s.Image}
	account := &narrating{Chooser: image}
	var (
		img      *diskmodel.Image
		checkErr error
		crashOp  diskmodel.Op
		crashed  bool
	)
	x, runErr := execute(cfg, run, func(x *execution, op diskmodel.Op) bool {
		if op.Yield != s.Crash {
			return false
		}
		crashOp, crashed = op, true
		img, checkErr = x.state(account, nil, nil)
		return true
	})
	fitErr := run.Err()
	if !exact {
		fitErr = run.Mismatch()
	}
	if err := errors.Join(fitErr, image.Err()); err != nil {
		return Result{}, fmt.Errorf("sim: the schedule does not fit workload %s: %w", w.Name, err)
	}
	if s.Crash != NoCrash && !crashed {
		return Result{}, fmt.Errorf("sim: the schedule crashes at yield %d, but the run ended after %d", s.Crash, len(x.ops))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "persy-sim trace %d\n", TraceVersion)
	fmt.Fprintf(&b, "workload %s\nprofile %s\n", s.Workload, s.Profile)
	if len(s.Run) > 0 {
		fmt.Fprintf(&b, "run decisions %s\n", choicesText(s.Run))
	}
	for _, op := range x.ops {
		if crashed && op.Yield == crashOp.Yield {
			break
		}
		fmt.Fprintf(&b, "%v\n", op)
	}
	fail := runErr
	switch {
	case !crashed:
		fmt.Fprintf(&b, "no crash: the run stopped after %d yields\n", len(x.ops))
	case crashOp.Kind == endKind:
		fmt.Fprintf(&b, "crash after the run, at #%d\n", crashOp.Yield)
	default:
		fmt.Fprintf(&b, "crash before %v\n", crashOp)
	}
	if crashed {
		fail = checkErr
		if len(s.Image) > 0 {
			fmt.Fprintf(&b, "image decisions %s\n", choicesText(s.Image))
		}
		switch {
		case img == nil:
			b.WriteString("image none: the disk refused it\n")
		case !img.Exists:
			b.WriteString("image: no file\n")
		default:
			sum := sha256.Sum256(img.Data)
			fmt.Fprintf(&b, "image %d bytes sha256 %x\n", len(img.Data), sum)
		}
	}
	res := Result{Cause: fail, Image: account.lines}
	if fail != nil {
		res.Failure = fail.Error()
		fmt.Fprintf(&b, "failure %s\n", res.Failure)
	} else {
		b.WriteString("passed\n")
	}
	res.Trace = b.String()
	sum := sha256.Sum256([]byte(res.Trace))
	res.SHA256 = hex.EncodeToString(sum[:])
	return res, nil
}

// ReplayFile reads the schedule at path and replays it against the
// workload of that name among workloads. It fails if the replay does not
// reproduce the schedule's failure and trace hash.
func ReplayFile(path string, workloads []Workload) (*Schedule, Result, error) {
	s, err := ReadSchedule(path)
	if err != nil {
		return nil, Result{}, err
	}
	i := -1
	for j, w := range workloads {
		if w.Name == s.Workload {
			i = j
		}
	}
	if i < 0 {
		return s, Result{}, fmt.Errorf("sim: %s: no workload %q here", path, s.Workload)
	}
	if s.TraceSHA256 == NoTrace {
		return s, Result{}, fmt.Errorf("sim: %s: the run was not deterministic when this failure was found; it has no trace to reproduce: %s", path, s.Failure)
	}
	res, err := Replay(s, workloads[i])
	if err != nil {
		return s, res, fmt.Errorf("%s: %w", path, err)
	}
	if res.Failure != s.Failure {
		return s, res, fmt.Errorf("sim: %s: replay found %q, the schedule recorded %q", path, res.Failure, s.Failure)
	}
	if res.SHA256 != s.TraceSHA256 {
		return s, res, fmt.Errorf("sim: %s: replay trace hash %s, the schedule recorded %s", path, res.SHA256, s.TraceSHA256)
	}
	return s, res, nil
}
