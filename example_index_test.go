package persy_test

import (
	"fmt"
	"log"

	persy "github.com/gopersy/persy"
)

// Create an index of ages to names, commit a few keys, then read ranges
// forwards and backwards inside a transaction with changes of its own:
// the reads merge them with the committed keys.
func ExampleCreateIndex() {
	db, err := persy.OpenMemory(persy.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ages := persy.IndexOf[uint8, string]("ages")
	err = db.Update(func(tx *persy.Tx) error {
		if err := persy.CreateIndex[uint8, string](tx, "ages", persy.Cluster); err != nil {
			return err
		}
		for _, p := range []struct {
			age  uint8
			name string
		}{{31, "ada"}, {42, "bob"}, {42, "cy"}, {57, "dee"}} {
			if err := ages.Put(tx, p.age, p.name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}

	tx, err := db.Begin(persy.TxOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	_ = ages.Put(tx, 35, "eve")         // a new key
	_ = ages.RemoveValue(tx, 42, "bob") // one value of a committed key
	_ = ages.Remove(tx, 57)             // a committed key
	for e, err := range ages.Range(tx, persy.Included[uint8](30), persy.Unbounded[uint8]()) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("up", e.Key, e.Values)
	}
	for e, err := range ages.RangeDesc(tx, persy.Unbounded[uint8](), persy.Excluded[uint8](42)) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("down", e.Key, e.Values)
	}
	// Output:
	// up 31 [ada]
	// up 35 [eve]
	// up 42 [cy]
	// down 35 [eve]
	// down 31 [ada]
}
