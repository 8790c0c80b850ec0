// Package persy is persy-go: an embedded, transactional, crash-safe
// storage engine. One file holds segments, named collections of records
// addressed by a stable RecordID. Transactions are ACID, with snapshots
// and two-phase commit under a caller-chosen id; after a crash the caller
// decides, for each transaction found prepared, commit or rollback.
//
// How a commit becomes durable: its changes, the records' contents
// included, go to the journal, and one barrier makes them durable; the
// commit is then applied in memory. A checkpoint later writes the records
// and address pages changed since the last one into fresh pages and stores
// a new root state naming them, which frees the journal. Nothing the
// durable root state reads is ever written in place, so a crash leaves the
// last checkpoint intact and recovery redoes the journal after it.
//
// Indexes are named B+trees from typed keys to typed values
// (CreateIndex, IndexOf); their nodes are records, so they are journaled,
// checkpointed, prepared, recovered and snapshotted as records are.
//
// This package is the API: thin wrappers over the engine core in package
// txn, as bbolt's root is its API.
package persy
