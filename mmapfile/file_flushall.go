//go:build darwin || windows

package mmapfile

// flushAllPages writes back every mapped page of the live size through
// the region holding it (flushPages), for platforms whose full barrier
// does not see pages dirtied through a mapping. The caller holds mu.
func (f *File) flushAllPages() error {
	for i, m := range f.r.mapped {
		base := int64(i) * f.r.regionBytes
		n := min(f.r.regionBytes, f.size-base)
		if n <= 0 {
			break
		}
		if err := flushPages(m[:n]); err != nil {
			return err
		}
	}
	return nil
}
