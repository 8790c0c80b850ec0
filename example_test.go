package persy_test

import (
	"fmt"
	"log"

	persy "github.com/gopersy/persy"
	"github.com/gopersy/persy/sim/diskmodel"
)

// Create a database, insert a record, prepare a second transaction under
// a caller-chosen id, and lose power before deciding it. Recovery lists
// the prepared transaction; the caller rolls it back and reads what
// survived.
func Example() {
	// A simulated disk, so that the example can lose power; a real
	// program passes a path to persy.Create and persy.Open.
	disk := diskmodel.New(diskmodel.Options{})
	db, err := persy.OpenStorage(disk, persy.Options{ManualSync: true})
	if err != nil {
		log.Fatal(err)
	}
	var id persy.RecordID
	err = db.Update(func(tx *persy.Tx) error {
		if err := tx.CreateSegment("orders"); err != nil {
			return err
		}
		id, err = tx.Insert("orders", []byte("order 1: 3 apples"))
		return err
	})
	if err != nil {
		log.Fatal(err)
	}

	tx, err := db.Begin(persy.TxOptions{ID: []byte("xa-42")})
	if err != nil {
		log.Fatal(err)
	}
	if err := tx.Update("orders", id, []byte("order 1: 300 apples")); err != nil {
		log.Fatal(err)
	}
	if _, err := tx.Prepare(); err != nil {
		log.Fatal(err)
	}

	// Power fails: the disk keeps only what barriers made durable.
	image, err := disk.CrashImage(diskmodel.Func(func(string, int) int { return 0 }), nil)
	if err != nil {
		log.Fatal(err)
	}
	rebooted, err := diskmodel.FromImage(image, diskmodel.Options{})
	if err != nil {
		log.Fatal(err)
	}

	rec, err := persy.Recover(rebooted, persy.Options{ManualSync: true})
	if err != nil {
		log.Fatal(err)
	}
	for _, t := range rec.Transactions() {
		if t.Status == persy.StatusPrepared {
			fmt.Printf("found %s: %s\n", t.ID, t.Status)
			if err := rec.Rollback(t.ID); err != nil {
				log.Fatal(err)
			}
		}
	}
	db, err = rec.Finish()
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(s *persy.Snapshot) error {
		data, err := s.Read("orders", id)
		fmt.Printf("%s\n", data)
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// found xa-42: prepared
	// order 1: 3 apples
}
