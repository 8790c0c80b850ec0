package persy

import "github.com/gopersy/persy/txn"

// RecordID names a record in its segment, for as long as the record
// lives: the address page it sits on (counted from 1) and its slot there.
// The zero RecordID names no record. After a delete commits, its id may
// name a record inserted later. Its text form is String's.
type RecordID = txn.RecordID

// ParseRecordID reads an id in the form String returns.
func ParseRecordID(s string) (RecordID, error) {
	return txn.ParseRecordID(s)
}
