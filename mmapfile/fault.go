package mmapfile

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Protect runs fn and turns a memory fault inside it into an error wrapping
// ErrFault, with the faulting address, instead of a crash. A shared mapping
// faults (SIGBUS) when the kernel cannot back a page: an I/O error on
// page-in, a block the file system could not allocate, a file truncated
// under the mapping. Protect sets debug.SetPanicOnFault for the calling
// goroutine while fn runs and restores the previous setting afterwards.
// Any other panic in fn propagates unchanged.
func Protect(fn func()) (err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		r := recover()
		if r == nil {
			return
		}
		// SetPanicOnFault's panics are runtime errors carrying the faulting
		// address; a nil dereference or a bounds error carries none and is
		// a bug, not a fault of the mapping.
		if re, ok := r.(runtime.Error); ok {
			if a, ok := r.(interface{ Addr() uintptr }); ok {
				err = fmt.Errorf("%w at address %#x: %v", ErrFault, a.Addr(), re)
				return
			}
		}
		panic(r)
	}()
	fn()
	return nil
}
