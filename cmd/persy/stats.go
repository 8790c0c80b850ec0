package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/gopersy/persy"
)

// runStats is persy stats FILE: DB.Stats of the file opened read-only,
// as tables.
func runStats(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("stats", "FILE", stderr)
	path, ok := fileArg(fs, args)
	if !ok {
		return 2
	}
	db, err := openReadOnly(path)
	if err != nil {
		fmt.Fprintf(stderr, "persy stats: %s\n", openFailure(path, err))
		return 1
	}
	defer db.Close()
	st, err := db.Stats()
	if err != nil {
		fmt.Fprintf(stderr, "persy stats: %s: %s (persy check %s lists every violation)\n", path, violation(err), path)
		return 1
	}
	printStats(stdout, path, st)
	return 0
}

func printStats(w io.Writer, path string, st persy.Stats) {
	fmt.Fprintf(w, "file %s: %d bytes, pages up to %d, %d grown and unused\n", path, st.FileBytes, st.EndBytes, st.FileBytes-st.EndBytes)

	fmt.Fprintf(w, "\npages by kind:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  kind\tpages\tbytes\t")
	var pages, bytes int64
	for _, p := range st.Pages {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t\n", p.Kind, p.Pages, p.Bytes)
		pages += p.Pages
		bytes += p.Bytes
	}
	fmt.Fprintf(tw, "  total\t%d\t%d\t\n", pages, bytes)
	tw.Flush()

	fmt.Fprintf(w, "\nfree space by size class:\n")
	if len(st.Free) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  page bytes\tpages\tbytes\t")
		var pages, bytes int64
		for _, f := range st.Free {
			fmt.Fprintf(tw, "  %d\t%d\t%d\t\n", f.PageBytes, f.Pages, f.Bytes)
			pages += f.Pages
			bytes += f.Bytes
		}
		fmt.Fprintf(tw, "  total\t%d\t%d\t\n", pages, bytes)
		tw.Flush()
	}

	j := st.Journal
	fmt.Fprintf(w, "\njournal: %d pages, %d bytes, %d spare pages; %d bytes of entries since the last checkpoint\n",
		j.Pages, j.Bytes, j.SparePages, j.EntryBytes)

	fmt.Fprintf(w, "\nsegments: %d\n", len(st.Segments))
	if len(st.Segments) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  name\trecords\trecord bytes\tdata page bytes\taddress pages")
		for _, s := range st.Segments {
			fmt.Fprintf(tw, "  %q\t%d\t%d\t%d\t%d\n", s.Name, s.Records, s.RecordBytes, s.DataBytes, s.AddressPages)
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nindexes: %d\n", len(st.Indexes))
	if len(st.Indexes) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  name\tkey -> value\tmode\tkeys\tvalues\tdepth\tnodes\tnode bytes")
		for _, i := range st.Indexes {
			fmt.Fprintf(tw, "  %q\t%v -> %v\t%v\t%d\t%d\t%d\t%d\t%d\n", i.Name, i.Key, i.Value, i.Mode, i.Keys, i.Values, i.Depth, i.Nodes, i.NodeBytes)
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "\nprepared transactions: %d\n", len(st.Prepared))
	for _, id := range st.Prepared {
		fmt.Fprintf(w, "  %s\n", quoteID(id))
	}
	if len(st.Prepared) > 0 {
		fmt.Fprintf(w, "  (undecided: persy recover %s lists them and decides)\n", path)
	}
}
