package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gopersy/persy"
)

// What the commands on a database file share: opening it read-only,
// saying why it does not open, reading their arguments.

// openReadOnly opens the database at path read-only: a shared lock (a
// writer elsewhere makes it fail with ErrLocked, and it keeps writers
// out), recovery in memory, prepared transactions left undecided, not a
// byte of the file written.
func openReadOnly(path string) (*persy.DB, error) {
	return persy.Open(path, persy.Options{ReadOnly: true})
}

// openFailure says why the database at path did not open, for an
// operator.
func openFailure(path string, err error) string {
	var ce *persy.CorruptError
	if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
		return fmt.Sprintf("%s is a directory", path)
	}
	switch {
	case errors.Is(err, persy.ErrLocked):
		return fmt.Sprintf("%s is in use by another process", path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s: no such file", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("%s: permission denied", path)
	case errors.Is(err, persy.ErrNotPersyFile):
		return fmt.Sprintf("%s is not a persy-go database", path)
	case errors.Is(err, persy.ErrFormatVersion):
		return fmt.Sprintf("%s: %v", path, err)
	case errors.As(err, &ce):
		return fmt.Sprintf("%s is corrupt and does not open: %s", path, violation(err))
	}
	return fmt.Sprintf("%s does not open: %v", path, err)
}

// violation is one violation a check found, or a corruption an open
// met, on one line: the page first, then where the walk met it and what
// is wrong.
func violation(err error) string {
	var ce *persy.CorruptError
	if !errors.As(err, &ce) {
		return err.Error()
	}
	where := strings.TrimSuffix(strings.TrimSuffix(err.Error(), ce.Error()), ": ")
	where = strings.TrimPrefix(where, "persy: ")
	var b strings.Builder
	if ce.Page >= 0 {
		fmt.Fprintf(&b, "page %d: ", ce.Page)
	}
	if where != "" {
		b.WriteString(where + ": ")
	}
	b.WriteString(ce.Reason)
	return b.String()
}

// violations flattens the errors errors.Join joined.
func violations(err error) []error {
	if err == nil {
		return nil
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, violations(e)...)
	}
	return out
}

// parseArgs parses args with fs, flags before, between and after the
// positional arguments, which it returns; after "--" every argument is
// positional.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		// A "--" ends the flags for fs.Parse, which drops it: find it
		// first so that what follows stays positional.
		end := len(args)
		for i, a := range args {
			if a == "--" {
				end = i
				break
			}
		}
		if err := fs.Parse(args[:end]); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			if end < len(args) {
				pos = append(pos, args[end+1:]...)
			}
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = slices.Concat(rest[1:], args[end:])
	}
}

// newFlags returns the flag set of command name, which prints its usage
// line and flags to stderr.
// fileArg parses args for a command whose only argument is FILE: the
// path, or false after saying how to call it (exit status 2).
func fileArg(fs *flag.FlagSet, args []string) (string, bool) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return "", false
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", false
	}
	return pos[0], true
}

func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("persy "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: persy %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// txID is a transaction id as a flag gives it: the id's text, or, in
// double quotes, the Go string literal the listing prints, for an id
// that is not plain text.
func txID(s string) ([]byte, error) {
	if strings.HasPrefix(s, `"`) {
		u, err := strconv.Unquote(s)
		if err != nil {
			return nil, fmt.Errorf("transaction id %s: not a Go string literal", s)
		}
		return []byte(u), nil
	}
	return []byte(s), nil
}

// quoteID prints a transaction id as a Go string literal, which txID
// reads back.
func quoteID(id []byte) string { return strconv.Quote(string(id)) }
