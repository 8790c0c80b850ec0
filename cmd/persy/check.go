package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/gopersy/persy"
	"github.com/gopersy/persy/mmapfile"
)

// runCheck is persy check FILE: the full consistency check of DB.Check
// on the file opened read-only, every violation on a line of its own.
// A file whose recovery meets a corrupt page does not open: its
// corruption is printed, then what the same walk finds in the file as
// its last checkpoint left it.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", "FILE", stderr)
	path, ok := fileArg(fs, args)
	if !ok {
		return 2
	}
	db, err := openReadOnly(path)
	if err != nil {
		fmt.Fprintf(stderr, "persy check: %s\n", openFailure(path, err))
		var ce *persy.CorruptError
		if errors.As(err, &ce) {
			checkUnrecovered(path, stdout, stderr)
		}
		return 1
	}
	defer db.Close()
	errs := violations(db.Check())
	if len(errs) > 0 {
		printViolations(stdout, path, errs)
		return 1
	}
	st, err := db.Stats()
	if err != nil {
		fmt.Fprintf(stderr, "persy check: %s: the check found nothing wrong, yet its statistics fail: %s\n", path, violation(err))
		return 1
	}
	var pages int64
	for _, p := range st.Pages {
		pages += p.Pages
	}
	fmt.Fprintf(stdout, "%s: clean: pages %d, segments %d, indexes %d, prepared transactions %d\n",
		path, pages, len(st.Segments), len(st.Indexes), len(st.Prepared))
	return 0
}

// checkUnrecovered prints the violations the check's walk finds in the
// file at path as its root state has it, without recovery: for a file
// whose recovery fails.
func checkUnrecovered(path string, stdout, stderr io.Writer) {
	f, err := mmapfile.Open(path, mmapfile.Options{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "persy check: %s\n", openFailure(path, err))
		return
	}
	defer f.Close()
	if errs := violations(persy.CheckStorage(f)); len(errs) > 0 {
		fmt.Fprintf(stdout, "without recovery, as its last checkpoint left it:\n")
		printViolations(stdout, path, errs)
	} else {
		fmt.Fprintf(stdout, "%s: without recovery, as its last checkpoint left it, its pages are clean\n", path)
	}
}

func printViolations(w io.Writer, path string, errs []error) {
	s := "s"
	if len(errs) == 1 {
		s = ""
	}
	fmt.Fprintf(w, "%s: %d violation%s\n", path, len(errs), s)
	for _, e := range errs {
		fmt.Fprintf(w, "  %s\n", violation(e))
	}
}
