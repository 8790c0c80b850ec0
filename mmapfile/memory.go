package mmapfile

import (
	"fmt"
	"sync"
)

// DefaultMemoryRegionBytes is the region size of a Memory unless
// MemoryOptions says otherwise.
const DefaultMemoryRegionBytes = 1 << 20

// MemoryOptions configures a Memory.
type MemoryOptions struct {
	// RegionBytes is the size of each heap region, a positive multiple of
	// PageBytes; zero means DefaultMemoryRegionBytes.
	RegionBytes int64
}

// Memory is a heap-backed Storage for in-memory databases. Its live
// behaviour is that of a File; its barriers succeed and make nothing more
// durable, since nothing outlives the process. Memory is safe for
// concurrent use by multiple goroutines.
type Memory struct {
	mu     sync.RWMutex
	r      regions
	size   int64
	closed bool
}

// NewMemory returns an empty Memory.
func NewMemory(o MemoryOptions) (*Memory, error) {
	rb := o.RegionBytes
	if rb == 0 {
		rb = DefaultMemoryRegionBytes
	}
	if rb <= 0 || rb%PageBytes != 0 {
		return nil, fmt.Errorf("mmapfile: region size %d is not a positive multiple of %d", rb, PageBytes)
	}
	return &Memory{r: regions{regionBytes: rb}}, nil
}

// Size implements Storage.
func (m *Memory) Size() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.size
}

// Grow implements Storage.
func (m *Memory) Grow(size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if size <= m.size {
		return nil
	}
	for len(m.r.mapped) < m.r.count(size) {
		m.r.mapped = append(m.r.mapped, make([]byte, m.r.regionBytes+MaxViewBytes))
	}
	m.size = size
	return nil
}

// Bytes implements Storage.
func (m *Memory) Bytes(off int64, n int) []byte {
	m.mu.RLock()
	defer m.mu.RUnlock()
	CheckView(off, n, m.size)
	return m.r.view(off, n)
}

// WriteAt implements Storage.
func (m *Memory) WriteAt(p []byte, off int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if err := CheckWrite(off, len(p), m.size); err != nil {
		return err
	}
	m.r.write(p, off)
	return nil
}

// SyncRange implements Storage.
func (m *Memory) SyncRange(off, n int64) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	return CheckSyncRange(off, n, m.size)
}

// Sync implements Storage.
func (m *Memory) Sync() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Close implements Storage. The views stay readable memory, but the
// contract forbids using them.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
