package persy

import (
	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/txn"
)

// CheckStorage checks a database held in s that is not open, as it is on
// disk, without recovering it: the same walk as DB.Check.
func CheckStorage(s mmapfile.Storage) error {
	return txn.CheckStorage(s)
}
