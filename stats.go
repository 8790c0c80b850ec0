package persy

import "github.com/gopersy/persy/txn"

// Stats describes a database at one moment: the pages of its file by
// kind, its free space by size class, its journal's length, its segments
// and indexes with their record counts and sizes as the latest commit has
// them, and its prepared transactions.
type Stats = txn.Stats

// PageCount is the number of a file's pages of one kind and the bytes
// they take: an entry of Stats.Pages.
type PageCount = txn.PageCount

// FreeClass is the free space of one size class: an entry of Stats.Free.
type FreeClass = txn.FreeClass

// JournalStats is the journal's length: Stats.Journal.
type JournalStats = txn.JournalStats

// SegmentStats describes a segment: an entry of Stats.Segments.
type SegmentStats = txn.SegmentStats

// IndexStats describes an index: an entry of Stats.Indexes.
type IndexStats = txn.IndexStats

// PageKinds names the kinds of page Stats.Pages counts, in its order:
// root, catalogue, address, data, index, journal, journal spare, free,
// limbo and retained (txn.PageKinds says what each holds).
var PageKinds = txn.PageKinds

// Stats returns what the database holds and how its file is used,
// writing nothing, so it works on a database opened with
// Options.ReadOnly. It walks the catalogue and address pages and reads
// the header of every record's page, while commits wait, then counts
// the segments' records and every index's keys in the latest commit.
func (db *DB) Stats() (Stats, error) {
	return db.e.Stats()
}
