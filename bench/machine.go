package main

import (
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// machineLimits are what the disk under the databases gives with no
// engine in the way: 4 KiB durable writes per second, by pwrite and
// fdatasync and by a store into a shared mapping and msync.
type machineLimits struct{ pwrite, msync float64 }

// limitWrites is how many durable writes each limit is measured over.
const limitWrites = 1000

func measureLimits(dir string) (machineLimits, error) {
	var l machineLimits
	path := filepath.Join(dir, "limits")
	f, err := os.Create(path)
	if err != nil {
		return l, err
	}
	defer os.Remove(path)
	defer f.Close()
	const span = 256 << 12
	if err := f.Truncate(span); err != nil {
		return l, err
	}
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return l, err
	}
	buf := make([]byte, 4096)
	t := time.Now()
	for i := range limitWrites {
		buf[0] = byte(i)
		if _, err := f.WriteAt(buf, int64(i%256)<<12); err != nil {
			return l, err
		}
		if err := unix.Fdatasync(int(f.Fd())); err != nil {
			return l, err
		}
	}
	l.pwrite = perSec(limitWrites, time.Since(t))
	m, err := unix.Mmap(int(f.Fd()), 0, span, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return l, err
	}
	defer unix.Munmap(m)
	t = time.Now()
	for i := range limitWrites {
		off := (i % 256) << 12
		m[off] = byte(i + 1)
		if err := unix.Msync(m[off:off+4096], unix.MS_SYNC); err != nil {
			return l, err
		}
	}
	l.msync = perSec(limitWrites, time.Since(t))
	return l, nil
}
