// Package mutant switches on seeded protocol bugs, one at a time, so that
// the crash simulator can show it would catch each: every fix of a
// durability rule keeps its broken form behind On(name), and
// `make sim MUTANT=name` explores the engine with that rule broken.
//
// In the default build On is a constant false, so the compiler removes
// every broken form; only a build with the tag "mutants" can switch one
// on, through the PERSY_MUTANT environment variable.
package mutant

// The seeded bugs, each named after the rule it breaks.
const (
	// JournalReuseUnscrubbed resumes the journal over a page a crash
	// left holding (part of) a page of the sequence numbers it will
	// write, without first making it unable to validate, and writes
	// journal pages unstamped, so that a page torn across two writes, or
	// a whole page an earlier writer left at a spare, can validate as
	// part of the resumed journal.
	JournalReuseUnscrubbed = "journal-reuse-unscrubbed"
	// JournalPagesUnstamped writes journal pages without stamps and
	// checks none, so that where a device drops the scrub of a torn
	// page, the next write of that page, torn the other way, completes
	// it: engine-chain's cuts on media drop the scrub under such a tear.
	JournalPagesUnstamped = "journal-pages-unstamped"
	// JournalHeadUnmarked reads the journal's head page without checking
	// the mark the root state gives it, so that where a device drops
	// the scrub of a page an earlier writer left whole at the address a
	// checkpoint made the head, unwritten, that page reads as the head,
	// with the transactions the recovery before discarded.
	JournalHeadUnmarked = "journal-head-unmarked"
	// PagesUnaligned places pages of an OS page or more at any sector
	// boundary, so one journal page shares OS pages with its neighbours.
	PagesUnaligned = "pages-unaligned"
	// OnePhasePrepared journals a one-phase commit with a Prepare entry
	// before its Commit entry, so a crash between them leaves it in
	// doubt.
	OnePhasePrepared = "one-phase-prepared"
	// ReferencesUnchecked reads a page a reference names without
	// checking the checksum the reference expects there.
	ReferencesUnchecked = "references-unchecked"
	// CutEntryUnclipped keeps, when a journal read meets the page a
	// writer resumed from an entry a crash cut short, the stream ranges
	// of the pages before as they were, holding the abandoned bytes.
	CutEntryUnclipped = "cut-entry-unclipped"
	// FormatNotAtomic formats a storage in steps a crash can stop in
	// between, leaving a file that is neither empty nor a database.
	FormatNotAtomic = "format-not-atomic"
	// CloseHidesFailure closes a database a failed barrier stopped and
	// returns nil, promising durable the background commits written
	// before the failure, which are not.
	CloseHidesFailure = "close-hides-failure"
	// LostFreeUnreported lets recovery go on from a root state older
	// than the newest one made durable (what a lost write of the newest
	// root copy leaves): it reads journal pages written under a later
	// generation as the journal, though the state loaded may list them
	// free, and reports a free of a page that state lists in limbo as a
	// plain error, not as corruption a caller can tell from a bug.
	LostFreeUnreported = "lost-free-unreported"
	// RefillUnsynced stores the root state of a journal refill before
	// the journal pages written since the last barrier are durable: the
	// state no longer lists them as spares, and a crash leaves them
	// reachable from nothing.
	RefillUnsynced = "refill-unsynced"
	// JournalPageUnsynced leaves the last page a journal flush wrote out
	// of its barriers: a flush makes every page it wrote durable before
	// it returns, and this one returns with the page holding its newest
	// entries, a commit's as a rule, still the kernel's to lose.
	JournalPageUnsynced = "journal-page-unsynced"
	// SyncErrorIgnored goes on from a journal barrier that failed as if
	// it had made the pages durable, so the commits it carried are
	// acknowledged: after a failed sync nothing is acknowledged (I12).
	SyncErrorIgnored = "sync-error-ignored"
	// RootBeforePages stores a root state before the barrier that makes
	// the pages it names durable, the checkpoint's records, address
	// pages and catalogue and the free-list chunks: the commit of a
	// checkpoint is durable before the data it covers.
	RootBeforePages = "root-before-pages"
	// GrowUnsynced ends a format with a ranged barrier over the pages it
	// wrote instead of a Sync: a grow, the format's from nothing to the
	// root page and slots, is durable only after a Sync, so a crash after
	// Format returned may bring back the empty file.
	GrowUnsynced = "grow-unsynced"
	// FreedReusedEarly hands out a free-list chunk the allocator
	// exhausted in the generation not yet stored: a page the durable
	// root state still reads is written before the state that stops
	// reading it is durable (I8).
	FreedReusedEarly = "freed-reused-early"
	// FreesUnlisted drops the pages freed since the last root state
	// instead of putting them in limbo in the next one: a change of the
	// free lists that never reaches the durable state, so the pages are
	// neither reachable nor free (I5).
	FreesUnlisted = "frees-unlisted"
	// SnapshotPagesFreed lets a checkpoint free the pages a snapshot
	// still reads, for a later checkpoint to hand out and overwrite: a
	// page is reused only once no snapshot reads it (I9).
	SnapshotPagesFreed = "snapshot-pages-freed"
	// RollbackKeepsJournal leaves a prepared transaction rolled back in
	// the set of undecided ones, so that every checkpoint keeps the
	// journal from its start on: a rollback frees what the transaction
	// held, its journal pages included (I10).
	RollbackKeepsJournal = "rollback-keeps-journal"
	// CheckpointedRedone redoes at recovery the transactions the
	// journal still holds although the checkpoint already has them
	// (those whose commit lies before its LSN): redo is idempotent only
	// because recovery skips them.
	CheckpointedRedone = "checkpointed-redone"
	// ZeroPageValid reads a page whose bytes are all zero, as unwritten
	// space is, as an empty free page instead of a corrupt one: an
	// all-zero page is never valid.
	ZeroPageValid = "zero-page-valid"
	// TxIDUnchecked lets Begin take a transaction id longer than
	// MaxTxIDBytes, which the journal refuses at commit, stopping the
	// database: an id over the limit is refused at Begin.
	TxIDUnchecked = "txid-unchecked"
	// PackFreedEarly frees a pack at the checkpoint after one of its
	// records leaves it, while others still read it: a page is freed
	// only once no slot reads it (I5).
	PackFreedEarly = "pack-freed-early"
)

// All lists the seeded bugs the crash exploration catches: make mutants
// runs make sim's exploration against each and fails if one is missed.
func All() []string {
	return []string{JournalReuseUnscrubbed, JournalPagesUnstamped, JournalHeadUnmarked, PagesUnaligned, OnePhasePrepared, ReferencesUnchecked, CutEntryUnclipped, FormatNotAtomic, CloseHidesFailure, LostFreeUnreported, RefillUnsynced,
		JournalPageUnsynced, SyncErrorIgnored, RootBeforePages, GrowUnsynced, FreedReusedEarly, FreesUnlisted,
		SnapshotPagesFreed, RollbackKeepsJournal, CheckpointedRedone, ZeroPageValid, TxIDUnchecked, PackFreedEarly}
}
