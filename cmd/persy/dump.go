package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gopersy/persy"
)

// runDump is persy dump FILE NAME: the records of segment NAME, or the
// keys and values of index NAME, read from the file opened read-only.
//
// As text a record is a line of its id and its value as a Go string
// literal, tab separated; an index key is a line of the key and each of
// its values, tab separated: numbers in decimal, strings and byte
// slices as Go string literals, RecordIDs in their text form.
//
// With --json each is a line of JSON: {"id": ..., "value": ...} or
// {"key": ..., "values": [...]}. Numbers are JSON numbers (the 128-bit
// integers too, exact), a non-finite float the string "NaN", "+Inf" or
// "-Inf", a RecordID its text form, and strings, byte slices and record
// values a JSON string when they are valid UTF-8 and {"base64": ...}
// otherwise, so that nothing is lost.
func runDump(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("dump", "[--json] [--segment | --index] FILE NAME", stderr)
	asJSON := fs.Bool("json", false, "one JSON object per line")
	onlySeg := fs.Bool("segment", false, "NAME is a segment (needed only where an index has the same name)")
	onlyIdx := fs.Bool("index", false, "NAME is an index (needed only where a segment has the same name)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 || *onlySeg && *onlyIdx {
		fs.Usage()
		return 2
	}
	path, name := pos[0], pos[1]
	db, err := openReadOnly(path)
	if err != nil {
		fmt.Fprintf(stderr, "persy dump: %s\n", openFailure(path, err))
		return 1
	}
	defer db.Close()
	snap, err := db.Snapshot()
	if err != nil {
		fmt.Fprintf(stderr, "persy dump: %s: %v\n", path, err)
		return 1
	}
	defer snap.Close()

	isSeg, err := snap.SegmentExists(name)
	if err != nil {
		fmt.Fprintf(stderr, "persy dump: %s: %v\n", path, err)
		return 1
	}
	isIdx, err := snap.IndexExists(name)
	if err != nil {
		fmt.Fprintf(stderr, "persy dump: %s: %v\n", path, err)
		return 1
	}
	isSeg, isIdx = isSeg && !*onlyIdx, isIdx && !*onlySeg
	switch {
	case isSeg && isIdx:
		fmt.Fprintf(stderr, "persy dump: %s has a segment and an index named %q: say which with --segment or --index\n", path, name)
		return 2
	case !isSeg && !isIdx:
		fmt.Fprintf(stderr, "persy dump: %s has no %s named %q; %s\n", path, kindAsked(*onlySeg, *onlyIdx), name, names(snap))
		return 1
	}

	w := bufio.NewWriter(stdout)
	if isSeg {
		err = dumpSegment(w, snap, name, *asJSON)
	} else {
		err = dumpIndex(w, snap, name, *asJSON)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		fmt.Fprintf(stderr, "persy dump: %s: %s\n", path, violation(err))
		return 1
	}
	return 0
}

func kindAsked(seg, idx bool) string {
	switch {
	case seg:
		return "segment"
	case idx:
		return "index"
	}
	return "segment or index"
}

// names lists the segments and indexes of snap, for a name not found.
func names(snap *persy.Snapshot) string {
	segs, err := snap.Segments()
	if err != nil {
		return err.Error()
	}
	idxs, err := snap.Indexes()
	if err != nil {
		return err.Error()
	}
	q := func(ns []string) string {
		if len(ns) == 0 {
			return "none"
		}
		for i := range ns {
			ns[i] = strconv.Quote(ns[i])
		}
		return strings.Join(ns, ", ")
	}
	var in []string
	for _, i := range idxs {
		in = append(in, i.Name)
	}
	return fmt.Sprintf("segments: %s; indexes: %s", q(segs), q(in))
}

func dumpSegment(w io.Writer, snap *persy.Snapshot, name string, asJSON bool) error {
	enc := newEncoder(w)
	for r, err := range snap.Scan(name) {
		if err != nil {
			return err
		}
		if asJSON {
			err = enc.Encode(struct {
				ID    persy.RecordID `json:"id"`
				Value any            `json:"value"`
			}{r.ID, jsonBytes(r.Data)})
		} else {
			_, err = fmt.Fprintf(w, "%v\t%s\n", r.ID, strconv.Quote(string(r.Data)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func dumpIndex(w io.Writer, snap *persy.Snapshot, name string, asJSON bool) error {
	enc := newEncoder(w)
	for e, err := range snap.IndexEntries(name) {
		if err != nil {
			return err
		}
		if asJSON {
			vals := make([]any, len(e.Values))
			for i, v := range e.Values {
				vals[i] = jsonValue(v)
			}
			err = enc.Encode(struct {
				Key    any   `json:"key"`
				Values []any `json:"values"`
			}{jsonValue(e.Key), vals})
		} else {
			var b strings.Builder
			b.WriteString(textValue(e.Key))
			for _, v := range e.Values {
				b.WriteString("\t" + textValue(v))
			}
			b.WriteString("\n")
			_, err = io.WriteString(w, b.String())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func newEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// textValue is an index key or value as dump's text shows it.
func textValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []byte:
		return strconv.Quote(string(v))
	case float32:
		return strconv.FormatFloat(float64(v), 'g', -1, 32)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v) // integers, Int128, Uint128 and RecordID print themselves
}

// jsonValue is an index key or value as dump's JSON shows it.
func jsonValue(v any) any {
	switch v := v.(type) {
	case string:
		return jsonBytes([]byte(v))
	case []byte:
		return jsonBytes(v)
	case float32:
		return jsonFloat(float64(v), 32)
	case float64:
		return jsonFloat(v, 64)
	case persy.Int128:
		return json.Number(v.String())
	case persy.Uint128:
		return json.Number(v.String())
	}
	return v // integers, and RecordID, which marshals as its text
}

// jsonBytes is b as a JSON string if it is valid UTF-8, else as
// {"base64": ...}: never a lossy string.
func jsonBytes(b []byte) any {
	if utf8.Valid(b) {
		return string(b)
	}
	return struct {
		Base64 string `json:"base64"`
	}{base64.StdEncoding.EncodeToString(b)}
}

// jsonFloat is f, of the given bits, as a JSON number, or as a string for
// the values JSON has no number for.
func jsonFloat(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}
