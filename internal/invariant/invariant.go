// Package invariant reports states of the engine that cannot happen: a
// lock released that is not held, a record slot handed out while a record
// occupies it. Built with the invariants tag (make test's race build) a
// violation panics, so that a test stops where the state went wrong; in
// the default build it is an error wrapping ErrInternal that the caller
// returns and that stops the database, never a state silently skipped.
package invariant

import (
	"errors"
	"fmt"
)

// ErrInternal marks an error that is a bug in persy-go, not in its input
// or its storage.
var ErrInternal = errors.New("persy: internal error")

// Violated reports a broken invariant described by format and args: it
// panics under the invariants build tag and returns an error wrapping
// ErrInternal otherwise.
func Violated(format string, args ...any) error {
	err := fmt.Errorf("%w: %s", ErrInternal, fmt.Sprintf(format, args...))
	if Enabled {
		panic(err)
	}
	return err
}
