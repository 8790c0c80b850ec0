package mmapfile_test

import (
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/mmapfile/storagetest"
)

func TestMemoryConformance(t *testing.T) {
	for _, rb := range []int64{64 << 10, mmapfile.DefaultMemoryRegionBytes} {
		storagetest.Run(t, func(t *testing.T) mmapfile.Storage {
			m, err := mmapfile.NewMemory(mmapfile.MemoryOptions{RegionBytes: rb})
			if err != nil {
				t.Fatal(err)
			}
			return m
		})
	}
}
