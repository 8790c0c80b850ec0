package persy

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordHandler is a slog.Handler that keeps each message.
type recordHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordHandler) WithGroup(string) slog.Handler            { return h }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}

func (h *recordHandler) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.msgs...)
}

// TestSnapshotLeakGoesToTheLogger: a snapshot garbage collected without
// Close is released and reported through Options.Logger, not the global
// log.
func TestSnapshotLeakGoesToTheLogger(t *testing.T) {
	h := &recordHandler{}
	db, err := OpenMemory(Options{Logger: slog.New(h)})
	mustT(t, err)
	defer db.Close()
	func() {
		s, err := db.Snapshot()
		mustT(t, err)
		_ = s // dropped without Close
	}()
	// Cleanups run on their own goroutine after a collection.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		for _, m := range h.messages() {
			if strings.Contains(m, "garbage collected without Close") {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no message of the leaked snapshot; the logger got %q", h.messages())
}
