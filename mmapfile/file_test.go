//go:build linux

package mmapfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"unsafe"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// testRegionBytes is small so that tests cross many region boundaries.
const testRegionBytes = 64 << 10

func createTestFile(t *testing.T) (*File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data")
	f, err := Create(path, Options{RegionBytes: testRegionBytes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, path
}

// inject replaces *p with v for the duration of the test. Tests that inject
// must not run in parallel.
func inject[T any](t *testing.T, p *T, v T) {
	old := *p
	*p = v
	t.Cleanup(func() { *p = old })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// pattern returns n bytes that differ with seed and position.
func pattern(seed byte, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7) + byte(i>>8)
	}
	return p
}

func panics(fn func()) (did bool) {
	defer func() { did = recover() != nil }()
	fn()
	return false
}

func TestCreateExistingFails(t *testing.T) {
	f, path := createTestFile(t)
	if _, err := Create(path, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create of a locked existing file = %v, want fs.ErrExist", err)
	}
	must(t, f.Close())
	if _, err := Create(path, Options{}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create of a closed existing file = %v, want fs.ErrExist", err)
	}
}

func TestOpenMissingFails(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a missing file = %v, want fs.ErrNotExist", err)
	}
}

func TestCreateIsEmpty(t *testing.T) {
	f, path := createTestFile(t)
	if f.Size() != 0 {
		t.Fatalf("created file has Size %d", f.Size())
	}
	fi, err := os.Stat(path)
	must(t, err)
	if fi.Size() != 0 || fi.Mode().Perm() != 0o644&^umask() {
		t.Fatalf("created file has size %d and mode %v", fi.Size(), fi.Mode())
	}
}

func umask() fs.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return fs.FileMode(m)
}

func TestCreateSyncsFileAndDirectory(t *testing.T) {
	dir := t.TempDir()
	type call struct {
		isDir bool
		ino   uint64
	}
	var calls []call
	inject(t, &fsync, func(fd int) error {
		var st unix.Stat_t
		must(t, unix.Fstat(fd, &st))
		calls = append(calls, call{st.Mode&unix.S_IFMT == unix.S_IFDIR, st.Ino})
		return unix.Fsync(fd)
	})
	f, err := Create(filepath.Join(dir, "data"), Options{})
	must(t, err)
	defer f.Close()
	var dirSt, fileSt unix.Stat_t
	must(t, unix.Stat(dir, &dirSt))
	must(t, unix.Stat(filepath.Join(dir, "data"), &fileSt))
	var syncedFile, syncedDir bool
	for _, c := range calls {
		syncedFile = syncedFile || !c.isDir && c.ino == fileSt.Ino
		syncedDir = syncedDir || c.isDir && c.ino == dirSt.Ino
	}
	if !syncedFile || !syncedDir {
		t.Fatalf("Create fsynced %+v: file synced %v, parent directory synced %v", calls, syncedFile, syncedDir)
	}
}

func TestCreateFailedSyncLeavesNoFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	inject(t, &fsync, func(int) error { return unix.EIO })
	if _, err := Create(path, Options{}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Create with a failing fsync = %v, want EIO", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed Create left the file behind: %v", err)
	}
}

func TestOptionsRegionBytes(t *testing.T) {
	dir := t.TempDir()
	for i, rb := range []int64{-PageBytes, 1000, PageBytes + 512} {
		if _, err := Create(filepath.Join(dir, string(rune('a'+i))), Options{RegionBytes: rb}); err == nil {
			t.Errorf("Create accepted RegionBytes %d", rb)
		}
	}
	f, err := Create(filepath.Join(dir, "default"), Options{})
	must(t, err)
	defer f.Close()
	if f.r.regionBytes != DefaultFileRegionBytes {
		t.Fatalf("zero RegionBytes gave regions of %d bytes, want %d", f.r.regionBytes, DefaultFileRegionBytes)
	}
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	must(t, err)
	return len(entries)
}

func TestSecondOpenerIsLocked(t *testing.T) {
	f, path := createTestFile(t)
	fds := openFDs(t)
	if _, err := Open(path, Options{RegionBytes: testRegionBytes}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open in the same process = %v, want ErrLocked", err)
	}
	if got := openFDs(t); got != fds {
		t.Fatalf("a locked-out Open leaked file descriptors: %d open, was %d", got, fds)
	}
	must(t, f.Close())
	g, err := Open(path, Options{RegionBytes: testRegionBytes})
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	defer g.Close()
	if _, err := Open(path, Options{RegionBytes: testRegionBytes}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while the reopened handle holds the file = %v, want ErrLocked", err)
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	f, path := createTestFile(t)
	const size = 3*testRegionBytes + 123
	want := pattern(3, size)
	must(t, f.Grow(size))
	must(t, f.WriteAt(want, 0))
	must(t, f.Sync())
	must(t, f.Close())

	onDisk, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(onDisk, want) {
		t.Fatalf("the file holds %d bytes that differ from what was written", len(onDisk))
	}
	g, err := Open(path, Options{RegionBytes: testRegionBytes})
	must(t, err)
	defer g.Close()
	if g.Size() != size {
		t.Fatalf("reopened Size = %d, want %d", g.Size(), size)
	}
	for off := int64(0); off < size; off += 1000 {
		n := int(min(1000, size-off))
		if !bytes.Equal(g.Bytes(off, n), want[off:off+int64(n)]) {
			t.Fatalf("reopened bytes at %d differ", off)
		}
	}
	// The reopened file keeps growing from its odd size.
	must(t, g.Grow(size+testRegionBytes))
	if v := g.Bytes(size-3, 10); !bytes.Equal(v[:3], want[size-3:]) || !bytes.Equal(v[3:], make([]byte, 7)) {
		t.Fatalf("bytes around the old end after Grow: %v", v)
	}
}

func TestViewsSurviveGrow(t *testing.T) {
	f, _ := createTestFile(t)
	must(t, f.Grow(PageBytes))
	early := f.Bytes(10, 5)
	must(t, f.WriteAt([]byte("hello"), 10))

	// Grow a little at a time across several regions, then far enough
	// that a maximal view fits past a boundary.
	for size := int64(PageBytes); size < 5*testRegionBytes; size += 3*PageBytes + 100 {
		must(t, f.Grow(size))
	}
	must(t, f.Grow(2*MaxViewBytes+3*testRegionBytes))
	if f.Size() != 2*MaxViewBytes+3*testRegionBytes {
		t.Fatalf("Size = %d after Grow", f.Size())
	}
	if got := len(f.r.mapped); got != f.r.count(f.Size()) {
		t.Fatalf("%d regions mapped for size %d, want %d", got, f.Size(), f.r.count(f.Size()))
	}
	if string(early) != "hello" {
		t.Fatalf("a view taken before Grow reads %q", early)
	}
	must(t, f.WriteAt([]byte("world"), 10))
	if string(early) != "world" {
		t.Fatalf("a view taken before Grow does not show a later write: %q", early)
	}

	// A write straddling a region boundary, read back through a view that
	// starts just before the boundary (so it runs on into the overlap) and
	// one that starts just after (in the next region).
	boundary := int64(2 * testRegionBytes)
	before := f.Bytes(boundary-100, 300)
	p := pattern(9, 300)
	must(t, f.WriteAt(p, boundary-100))
	if !bytes.Equal(before, p) {
		t.Fatal("a view starting before a region boundary does not show a write across it")
	}
	if !bytes.Equal(f.Bytes(boundary+1, 199), p[101:]) {
		t.Fatal("a view starting after a region boundary does not show a write across it")
	}

	// A maximal view starting just before a boundary, written in one piece
	// longer than a region.
	big := pattern(17, MaxViewBytes)
	off := int64(5*testRegionBytes - 1)
	must(t, f.WriteAt(big, off))
	if !bytes.Equal(f.Bytes(off, MaxViewBytes), big) {
		t.Fatal("a maximal view across many regions differs from the write")
	}
	if !bytes.Equal(f.Bytes(off+MaxViewBytes-10, 20)[:10], big[MaxViewBytes-10:]) {
		t.Fatal("a view in a later region differs from the write")
	}
}

func TestGrowNoOp(t *testing.T) {
	f, _ := createTestFile(t)
	must(t, f.Grow(1000))
	for _, size := range []int64{-1, 0, 999, 1000} {
		must(t, f.Grow(size))
		if f.Size() != 1000 {
			t.Fatalf("Grow(%d) changed Size to %d", size, f.Size())
		}
	}
}

func fileStat(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Stat(path, &st))
	return st
}

func TestGrowFullDisk(t *testing.T) {
	f, path := createTestFile(t)
	must(t, f.Grow(1000))
	// The file system extends the file part way, then runs out of space.
	inject(t, &fallocate, func(fd int, mode uint32, off, n int64) error {
		must(t, unix.Ftruncate(fd, off+n/2))
		return unix.ENOSPC
	})
	if err := f.Grow(3 * testRegionBytes); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Grow on a full disk = %v, want ENOSPC", err)
	}
	if f.Size() != 1000 {
		t.Fatalf("a failed Grow changed Size to %d", f.Size())
	}
	if st := fileStat(t, path); st.Size != 1000 {
		t.Fatalf("a failed Grow left the file at %d bytes, want 1000", st.Size)
	}
	if len(f.r.mapped) != 1 {
		t.Fatalf("a failed Grow left %d regions mapped", len(f.r.mapped))
	}
	// A full disk does not poison.
	must(t, f.WriteAt([]byte("ok"), 998))
	must(t, f.Sync())
}

func TestGrowWithoutFallocateAllocates(t *testing.T) {
	f, path := createTestFile(t)
	must(t, f.Grow(1000))
	must(t, f.WriteAt(pattern(1, 1000), 0))
	// The reference: real fallocate allocates blocks. Where it does not
	// (a file system that allocates lazily), there is nothing to compare.
	ref, refPath := createTestFile(t)
	must(t, ref.Grow(3*testRegionBytes))
	if fileStat(t, refPath).Blocks*512 < 3*testRegionBytes {
		t.Skip("fallocate does not allocate blocks on this file system")
	}

	inject(t, &fallocate, func(int, uint32, int64, int64) error { return unix.EOPNOTSUPP })
	const size = 3*testRegionBytes + 5
	must(t, f.Grow(size))
	if f.Size() != size {
		t.Fatalf("Size = %d after Grow(%d)", f.Size(), size)
	}
	st := fileStat(t, path)
	if st.Size != size {
		t.Fatalf("the file is %d bytes after Grow(%d)", st.Size, size)
	}
	if st.Blocks*512 < size {
		t.Fatalf("Grow without fallocate left holes: %d bytes allocated for %d", st.Blocks*512, size)
	}
	if !bytes.Equal(f.Bytes(0, 1000), pattern(1, 1000)) {
		t.Fatal("Grow without fallocate changed the old bytes")
	}
	if !bytes.Equal(f.Bytes(1000, size-1000), make([]byte, size-1000)) {
		t.Fatal("Grow without fallocate: new bytes are not zero")
	}
}

func TestSyncRangeCoversPagesAcrossRegions(t *testing.T) {
	f, _ := createTestFile(t)
	const size = 3*MaxViewBytes + 100
	must(t, f.Grow(size))
	ps := osPageBytes()
	var lens []int64
	inject(t, &msync, func(b []byte, flags int) error {
		if flags != unix.MS_SYNC {
			t.Errorf("msync flags %#x, want MS_SYNC", flags)
		}
		if a := int64(uintptr(unsafe.Pointer(&b[0]))); a%ps != 0 || int64(len(b))%ps != 0 {
			t.Errorf("msync of %d bytes at %#x is not page-aligned", len(b), a)
		}
		lens = append(lens, int64(len(b)))
		return unix.Msync(b, flags)
	})
	for _, c := range []struct{ off, n int64 }{
		{100, 2*MaxViewBytes + 1},        // longer than a region and its overlap
		{testRegionBytes - 1, 2},         // across one boundary
		{size - 1, 1},                    // the partial last page
		{0, size},                        // everything
		{5 * testRegionBytes, PageBytes}, // exactly one page at a boundary
	} {
		lens = nil
		must(t, f.SyncRange(c.off, c.n))
		start, end := c.off&^(ps-1), (c.off+c.n+ps-1)&^(ps-1)
		var total int64
		for _, n := range lens {
			total += n
		}
		if total != end-start {
			t.Errorf("SyncRange(%d, %d) synced %d bytes in %v, want the %d of [%d, %d)", c.off, c.n, total, lens, end-start, start, end)
		}
	}
	lens = nil
	must(t, f.SyncRange(size, 0))
	if len(lens) != 0 {
		t.Errorf("SyncRange of 0 bytes called msync %v", lens)
	}
}

// poisoned checks that every mutation of f fails with ErrPoisoned, and
// that reads and Close still work.
func checkPoisoned(t *testing.T, f *File) {
	t.Helper()
	for name, err := range map[string]error{
		"WriteAt":   f.WriteAt([]byte{1}, 0),
		"Sync":      f.Sync(),
		"SyncRange": f.SyncRange(0, 1),
		"Grow":      f.Grow(f.Size() + PageBytes),
	} {
		if !errors.Is(err, ErrPoisoned) {
			t.Errorf("%s on a poisoned handle = %v, want ErrPoisoned", name, err)
		}
	}
	_ = f.Bytes(0, 1)
	if err := f.Close(); err != nil {
		t.Errorf("Close of a poisoned handle: %v", err)
	}
}

func TestFailedSyncPoisons(t *testing.T) {
	f, _ := createTestFile(t)
	must(t, f.Grow(PageBytes))
	must(t, f.WriteAt([]byte("x"), 0))
	must(t, f.Sync())
	inject(t, &fdatasync, func(int) error { return unix.EIO })
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync with a failing fdatasync = %v, want EIO", err)
	}
	fdatasync = unix.Fdatasync // a later sync would succeed, and prove nothing
	checkPoisoned(t, f)
}

func TestFailedSyncRangePoisons(t *testing.T) {
	f, _ := createTestFile(t)
	must(t, f.Grow(PageBytes))
	must(t, f.SyncRange(0, 1))
	inject(t, &msync, func([]byte, int) error { return unix.EIO })
	if err := f.SyncRange(10, 10); !errors.Is(err, syscall.EIO) {
		t.Fatalf("SyncRange with a failing msync = %v, want EIO", err)
	}
	msync = unix.Msync
	checkPoisoned(t, f)
}

func TestOutOfRangeDoesNotPoison(t *testing.T) {
	f, _ := createTestFile(t)
	must(t, f.Grow(PageBytes))
	if err := f.SyncRange(0, PageBytes+1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("SyncRange past the end = %v, want ErrOutOfRange", err)
	}
	if err := f.WriteAt([]byte{1, 2}, PageBytes-1); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("WriteAt past the end = %v, want ErrOutOfRange", err)
	}
	must(t, f.WriteAt([]byte{1}, 0))
	must(t, f.SyncRange(0, 1))
	must(t, f.Sync())
}

func TestClosed(t *testing.T) {
	f, path := createTestFile(t)
	must(t, f.Grow(PageBytes))
	must(t, f.Close())
	must(t, f.Close())
	for name, err := range map[string]error{
		"WriteAt":   f.WriteAt([]byte{1}, 0),
		"Grow":      f.Grow(2 * PageBytes),
		"SyncRange": f.SyncRange(0, 1),
		"Sync":      f.Sync(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if f.Size() != PageBytes {
		t.Errorf("Size after Close = %d, want %d", f.Size(), PageBytes)
	}
	if !panics(func() { f.Bytes(0, 1) }) {
		t.Errorf("Bytes after Close did not panic")
	}
	g, err := Open(path, Options{RegionBytes: testRegionBytes})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	must(t, g.Close())
}

// TestConcurrentUse runs writers, readers, a grower and barriers together;
// under the race detector it checks the locking of regions and size.
func TestConcurrentUse(t *testing.T) {
	f, _ := createTestFile(t)
	const writers, rounds = 4, 50
	must(t, f.Grow(writers*PageBytes))
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			off := int64(w * PageBytes)
			view := f.Bytes(off, PageBytes)
			for r := range rounds {
				p := pattern(byte(w*rounds+r), PageBytes)
				if err := f.WriteAt(p, off); err != nil {
					t.Error(err)
					return
				}
				if !bytes.Equal(view, p) {
					t.Errorf("writer %d round %d: view differs from its write", w, r)
					return
				}
				if err := f.SyncRange(off, PageBytes); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for r := range rounds {
			if err := f.Grow(f.Size() + testRegionBytes/3); err != nil {
				t.Error(err)
				return
			}
			if r%10 == 0 {
				if err := f.Sync(); err != nil {
					t.Error(err)
					return
				}
			}
			end := f.Size()
			if !bytes.Equal(f.Bytes(end-100, 100), make([]byte, 100)) {
				t.Errorf("grown bytes are not zero")
				return
			}
		}
	})
	wg.Wait()
}

func TestProtectConvertsFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data")
	must(t, os.WriteFile(path, make([]byte, 2*PageBytes), 0o644))
	osf, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	defer osf.Close()
	m, err := mmap.MapRegion(osf, 2*PageBytes, mmap.RDWR, 0, 0)
	must(t, err)
	defer m.Unmap()
	// Truncation under the mapping: its pages now lie beyond the end of
	// the file, and touching them raises SIGBUS.
	must(t, os.Truncate(path, 0))

	var sink byte
	err = Protect(func() { sink = m[PageBytes] })
	if !errors.Is(err, ErrFault) {
		t.Fatalf("a read beyond the end of a mapped file = %v (read %d), want ErrFault", err, sink)
	}
	err = Protect(func() { copy(m[10:], "store") })
	if !errors.Is(err, ErrFault) {
		t.Fatalf("a store beyond the end of a mapped file = %v, want ErrFault", err)
	}
}

func TestProtectRepanicsOtherPanics(t *testing.T) {
	var nilPtr *int
	var empty []byte
	i := 3
	for name, fn := range map[string]func(){
		"panic":  func() { panic("boom") },
		"nil":    func() { _ = *nilPtr },
		"bounds": func() { _ = empty[i] },
	} {
		if !panics(func() { _ = Protect(fn) }) {
			t.Errorf("Protect swallowed a %s panic", name)
		}
	}
}

func TestProtectRestoresPanicOnFault(t *testing.T) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(false))
	for _, prev := range []bool{false, true} {
		debug.SetPanicOnFault(prev)
		must(t, Protect(func() {}))
		if got := debug.SetPanicOnFault(prev); got != prev {
			t.Errorf("after Protect, SetPanicOnFault is %v, was %v", got, prev)
		}
		_ = panics(func() { _ = Protect(func() { panic("boom") }) })
		if got := debug.SetPanicOnFault(prev); got != prev {
			t.Errorf("after a panic in Protect, SetPanicOnFault is %v, was %v", got, prev)
		}
	}
}

func TestWriteFaultPoisons(t *testing.T) {
	f, path := createTestFile(t)
	must(t, f.Grow(3*PageBytes))
	must(t, os.Truncate(path, 0)) // behind the handle's back
	err := f.WriteAt([]byte("lost"), PageBytes)
	if !errors.Is(err, ErrFault) {
		t.Fatalf("WriteAt into a truncated mapping = %v, want ErrFault", err)
	}
	checkPoisoned(t, f)
}

// TestReadOnlyFile: a read-only File reads what the file holds, shares
// the file with other read-only handles and no writer, refuses writes
// and growth with ErrReadOnly, and changes nothing in the file.
func TestReadOnlyFile(t *testing.T) {
	f, path := createTestFile(t)
	size := int64(3*testRegionBytes + PageBytes)
	must(t, f.Grow(size))
	want := pattern(5, int(size))
	for off := int64(0); off < size; off += MaxViewBytes {
		must(t, f.WriteAt(want[off:min(off+MaxViewBytes, size)], off))
	}
	must(t, f.Sync())
	if _, err := Open(path, Options{RegionBytes: testRegionBytes, ReadOnly: true}); !errors.Is(err, ErrLocked) {
		t.Fatalf("a read-only Open while a writer holds the file = %v, want ErrLocked", err)
	}
	must(t, f.Close())
	must(t, os.Chmod(path, 0o444))
	fi, err := os.Stat(path)
	must(t, err)

	var ro [2]*File
	for i := range ro {
		if ro[i], err = Open(path, Options{RegionBytes: testRegionBytes, ReadOnly: true}); err != nil {
			t.Fatalf("read-only Open %d: %v", i, err)
		}
		defer ro[i].Close()
	}
	if _, err := Open(path, Options{RegionBytes: testRegionBytes}); !errors.Is(err, ErrLocked) {
		t.Fatalf("a read-write Open while readers hold the file = %v, want ErrLocked", err)
	}
	r := ro[0]
	if got := r.Bytes(testRegionBytes-10, 20); !bytes.Equal(got, want[testRegionBytes-10:testRegionBytes+10]) {
		t.Fatal("a read-only view across a region boundary reads other bytes")
	}
	if err := r.WriteAt([]byte{1}, 0); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("WriteAt on a read-only File = %v, want ErrReadOnly", err)
	}
	if err := r.Grow(size + PageBytes); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("Grow on a read-only File = %v, want ErrReadOnly", err)
	}
	must(t, r.Grow(size)) // no growth: a no-op, as on any File
	must(t, r.SyncRange(0, size))
	must(t, r.Sync())
	if r.Size() != size {
		t.Fatalf("size %d, want %d", r.Size(), size)
	}
	// The mapping has no write access: a store into it faults.
	if err := Protect(func() { r.Bytes(0, 1)[0] = 1 }); err == nil && r.Bytes(0, 1)[0] == 1 {
		t.Fatal("a store into a read-only mapping changed it")
	}
	for _, h := range ro {
		must(t, h.Close())
	}
	got, err := os.ReadFile(path)
	must(t, err)
	fi2, err := os.Stat(path)
	must(t, err)
	if !bytes.Equal(got, want) || !fi.ModTime().Equal(fi2.ModTime()) {
		t.Fatal("read-only handles changed the file")
	}
	if _, err := Create(filepath.Join(t.TempDir(), "new"), Options{ReadOnly: true}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a read-only Create = %v, want ErrReadOnly", err)
	}
}

// TestCloseTrimmed: CloseTrimmed cuts the file to the size it is given,
// keeping the bytes before it; a size at or past the file's end, or a
// read-only File, cuts nothing.
func TestCloseTrimmed(t *testing.T) {
	f, path := createTestFile(t)
	if err := f.Grow(4 * testRegionBytes); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteAt([]byte("kept"), 8192-4); err != nil {
		t.Fatal(err)
	}
	if err := f.CloseTrimmed(8192); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 8192 || string(b[8192-4:]) != "kept" {
		t.Fatalf("after CloseTrimmed(8192): %d bytes, ending %q", len(b), b[max(len(b)-4, 0):])
	}
	for _, c := range []struct {
		name string
		o    Options
		size int64
	}{
		{"a size past the end", Options{}, 1 << 20},
		{"read-only", Options{ReadOnly: true}, 4096},
	} {
		g, err := Open(path, c.o)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.CloseTrimmed(c.size); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() != 8192 {
			t.Fatalf("%s: the file is %v bytes (%v), want 8192 unchanged", c.name, fi.Size(), err)
		}
	}
}
