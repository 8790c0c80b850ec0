package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/gopersy/persy/sim"
)

// workerEnv, set in a process's environment, makes persy a worker of
// persy sim: it explores the rows it reads from standard input, one at a
// time, and writes their progress and results to standard output, as
// JSON lines. The simulator's rapid checks cannot share a process, so
// rows run in parallel each in a worker process of its own.
const workerEnv = "PERSY_SIM_WORKER"

// workerErr begins the error of a row a worker process did not answer
// for: it died, or wrote what is not its protocol.
const workerErr = "worker: "

// rowRunner explores rows, one at a time.
type rowRunner interface {
	run(t rowTask, progress func(sim.Report)) rowResult
}

// inProcess explores rows in this process.
type inProcess struct{}

func (inProcess) run(t rowTask, progress func(sim.Report)) rowResult {
	return exploreRow(t, progress)
}

// workerMsg is one line a worker writes: a row's report so far, or its
// result.
type workerMsg struct {
	Progress *sim.Report `json:",omitempty"`
	Result   *rowResult  `json:",omitempty"`
}

// worker is a worker process.
type worker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
}

// startWorker starts a worker process: this program again, told so by
// workerEnv.
func startWorker() (*worker, error) {
	w := &worker{}
	return w, w.restart()
}

// restart starts w's process, a new one if it had one.
func (w *worker) restart() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.cmd, w.in, w.out = cmd, in, json.NewDecoder(bufio.NewReader(out))
	return nil
}

func (w *worker) run(t rowTask, progress func(sim.Report)) rowResult {
	if err := json.NewEncoder(w.in).Encode(t); err != nil {
		return rowResult{Err: workerErr + err.Error()}
	}
	for {
		var m workerMsg
		if err := w.out.Decode(&m); err != nil {
			return rowResult{Err: workerErr + err.Error()}
		}
		switch {
		case m.Result != nil:
			return *m.Result
		case m.Progress != nil:
			progress(*m.Progress)
		}
	}
}

// close ends the worker: no more rows.
func (w *worker) close() {
	if w.cmd == nil {
		return
	}
	_ = w.in.Close()
	_ = w.cmd.Wait()
	w.cmd = nil
}

// kill ends a worker that broke its protocol or died.
func (w *worker) kill() {
	if w.cmd == nil {
		return
	}
	_ = w.in.Close()
	_ = w.cmd.Process.Kill()
	_ = w.cmd.Wait()
	w.cmd = nil
}

// serveWorker is a worker's life: rows from in, explored one at a time,
// their progress and results to out. It returns the exit status.
func serveWorker(in io.Reader, out io.Writer) int {
	dec := json.NewDecoder(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	for {
		var t rowTask
		if err := dec.Decode(&t); err == io.EOF {
			return 0
		} else if err != nil {
			fmt.Fprintf(os.Stderr, "persy sim worker: %v\n", err)
			return 2
		}
		res := exploreRow(t, func(rep sim.Report) {
			rep.Minimal, rep.Log = nil, nil // counts are all progress needs
			_ = enc.Encode(workerMsg{Progress: &rep})
		})
		if err := enc.Encode(workerMsg{Result: &res}); err != nil {
			fmt.Fprintf(os.Stderr, "persy sim worker: %v\n", err)
			return 2
		}
	}
}
