package txn

import (
	"errors"
	"sync"
	"time"

	"github.com/gopersy/persy/internal/invariant"
)

// lockTable holds the locks of prepared transactions: shared or
// exclusive, taken all at once in the global order of their keys, so
// that prepares never deadlock, and held until commit or rollback.
type lockTable struct {
	mu      sync.Mutex
	held    map[string]*lockState
	changed chan struct{} // closed and replaced at every release
}

type lockState struct {
	shared    int
	exclusive bool
}

type lockReq struct {
	key       string
	exclusive bool
	// noWait fails at once with a *busyError instead of waiting.
	noWait bool
}

func newLockTable() *lockTable {
	return &lockTable{held: map[string]*lockState{}, changed: make(chan struct{})}
}

// acquire takes every lock of reqs, which are in key order with no key
// twice, waiting up to timeout in all, from its first wait (a negative
// timeout never waits). On failure it holds none of them.
func (lt *lockTable) acquire(reqs []lockReq, timeout time.Duration) error {
	var deadline time.Time
	for i, r := range reqs {
		for {
			lt.mu.Lock()
			st := lt.held[r.key]
			if st == nil || (!st.exclusive && (!r.exclusive || st.shared == 0)) {
				if st == nil {
					st = &lockState{}
					lt.held[r.key] = st
				}
				if r.exclusive {
					st.exclusive = true
				} else {
					st.shared++
				}
				lt.mu.Unlock()
				break
			}
			wait := lt.changed
			lt.mu.Unlock()
			if r.noWait || timeout < 0 {
				if err := lt.release(reqs[:i]); err != nil {
					return err
				}
				if r.noWait {
					return &busyError{r.key}
				}
				return ErrTimeout
			}
			if deadline.IsZero() {
				deadline = time.Now().Add(timeout)
			}
			left := time.Until(deadline)
			if left <= 0 {
				if err := lt.release(reqs[:i]); err != nil {
					return err
				}
				return ErrTimeout
			}
			t := time.NewTimer(left)
			select {
			case <-wait:
			case <-t.C:
			}
			t.Stop()
		}
	}
	return nil
}

// release gives back every lock of reqs. A lock reqs names that is not
// held as it says is a broken invariant (invariant.Violated): the others
// are released and the error returned.
func (lt *lockTable) release(reqs []lockReq) error {
	if len(reqs) == 0 {
		return nil
	}
	lt.mu.Lock()
	defer lt.mu.Unlock()
	var errs []error
	for _, r := range reqs {
		st := lt.held[r.key]
		switch {
		case st == nil:
			errs = append(errs, invariant.Violated("lock %q released and not held", r.key))
			continue
		case r.exclusive && !st.exclusive:
			errs = append(errs, invariant.Violated("exclusive lock %q released and held shared only", r.key))
			continue
		case !r.exclusive && st.shared == 0:
			errs = append(errs, invariant.Violated("shared lock %q released and held exclusively only", r.key))
			continue
		}
		if r.exclusive {
			st.exclusive = false
		} else {
			st.shared--
		}
		if !st.exclusive && st.shared == 0 {
			delete(lt.held, r.key)
		}
	}
	close(lt.changed)
	lt.changed = make(chan struct{})
	return errors.Join(errs...)
}
