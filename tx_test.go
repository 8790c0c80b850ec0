package persy

import (
	"errors"
	"testing"
)

// TestTxStrategyZeroValue: TxOptions{} takes the database's strategy,
// Options{} means LastWin, a strategy set on the transaction overrides
// the database's, and a value no constant names is refused at Begin.
func TestTxStrategyZeroValue(t *testing.T) {
	// conflicts reports whether a transaction begun with o fails its
	// prepare after a commit in between changed the record it updates.
	conflicts := func(t *testing.T, opts Options, o TxOptions) bool {
		t.Helper()
		opts.LockTimeout = -1
		db, err := OpenMemory(opts)
		mustT(t, err)
		defer db.Close()
		var id RecordID
		mustT(t, db.Update(func(tx *Tx) error {
			mustT(t, tx.CreateSegment("s"))
			id, err = tx.Insert("s", []byte("v0"))
			return err
		}))
		tx, err := db.Begin(o)
		mustT(t, err)
		mustT(t, tx.Update("s", id, []byte("mine")))
		mustT(t, db.Update(func(o *Tx) error { return o.Update("s", id, []byte("between")) }))
		err = tx.Commit()
		if err != nil && !errors.Is(err, ErrVersionNotLatest) {
			t.Fatalf("commit: %v, want nil or ErrVersionNotLatest", err)
		}
		return err != nil
	}
	cases := []struct {
		name string
		db   Strategy
		tx   Strategy
		want bool
	}{
		{"both zero: LastWin", DefaultStrategy, DefaultStrategy, false},
		{"database default", VersionOnWrite, DefaultStrategy, true},
		{"transaction overrides", VersionOnWrite, LastWin, false},
		{"transaction sets its own", LastWin, VersionOnWrite, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := conflicts(t, Options{Strategy: c.db}, TxOptions{Strategy: c.tx}); got != c.want {
				t.Errorf("database %v, transaction %v: conflict %v, want %v", c.db, c.tx, got, c.want)
			}
		})
	}

	db, err := OpenMemory(Options{})
	mustT(t, err)
	defer db.Close()
	if tx, err := db.Begin(TxOptions{Strategy: VersionOnRead + 1}); err == nil {
		tx.Rollback()
		t.Fatal("Begin with an unknown strategy succeeded")
	}
	bad, err := OpenMemory(Options{Strategy: 200})
	if err == nil {
		defer bad.Close()
		if tx, err := bad.Begin(TxOptions{}); err == nil {
			tx.Rollback()
			t.Fatal("Begin under an unknown database strategy succeeded")
		}
	}
}
