package invariant

import (
	"errors"
	"testing"
)

func TestViolated(t *testing.T) {
	defer func() {
		r := recover()
		if Enabled != (r != nil) {
			t.Fatalf("invariants tag %v, panic %v", Enabled, r)
		}
		if r != nil && !errors.Is(r.(error), ErrInternal) {
			t.Fatalf("panic %v does not wrap ErrInternal", r)
		}
	}()
	err := Violated("slot %d taken twice", 7)
	if !errors.Is(err, ErrInternal) || err.Error() != "persy: internal error: slot 7 taken twice" {
		t.Fatalf("Violated = %v", err)
	}
}
