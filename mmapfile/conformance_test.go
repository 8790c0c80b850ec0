package mmapfile_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/mmapfile/storagetest"
)

// TestFileConformance runs the Storage conformance suite against File, with
// regions small enough that views and writes cross their boundaries.
// (Memory runs it in memory_test.go.)
func TestFileConformance(t *testing.T) {
	dir := t.TempDir()
	files := 0
	storagetest.Run(t, func(t *testing.T) mmapfile.Storage {
		files++
		f, err := mmapfile.Create(filepath.Join(dir, fmt.Sprintf("data-%d", files)), mmapfile.Options{RegionBytes: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	})
}
