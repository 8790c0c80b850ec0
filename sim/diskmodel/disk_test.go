package diskmodel_test

import (
	"bytes"
	"errors"
	"io/fs"
	"syscall"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/mmapfile/storagetest"
	"github.com/gopersy/persy/sim/diskmodel"
)

const page = mmapfile.PageBytes

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) mmapfile.Storage {
		return diskmodel.New(diskmodel.Options{})
	})
}

// always answers every decision with the same end of its range.
func always(last bool) diskmodel.Chooser {
	return diskmodel.Func(func(_ string, n int) int {
		if last {
			return n - 1
		}
		return 0
	})
}

// script answers named decisions from a map (the value, or n-1 for -1) and
// every other decision with 0.
func script(m map[string]int) diskmodel.Chooser {
	return diskmodel.Func(func(label string, n int) int {
		v, ok := m[label]
		if !ok {
			return 0
		}
		if v < 0 {
			return n - 1
		}
		return v
	})
}

func must(t interface {
	Helper()
	Fatal(...any)
}, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func image(t testing.TB, d *diskmodel.Disk, ch diskmodel.Chooser) *diskmodel.Image {
	t.Helper()
	img, err := d.CrashImage(ch, nil)
	must(t, err)
	return img
}

// synced returns a disk whose file exists durably with size bytes of zero.
func synced(t testing.TB, p diskmodel.Profile, size int64) *diskmodel.Disk {
	d := diskmodel.New(diskmodel.Options{Profile: p})
	must(t, d.Grow(size))
	must(t, d.Sync())
	return d
}

// TestSectorOutcomesProduced shows that a page written twice without a
// barrier can come back, by some choice, old, new, intermediate, and torn
// at sector granularity, and, under atomic-4k, never torn.
func TestSectorOutcomesProduced(t *testing.T) {
	v1, v2 := bytes.Repeat([]byte{1}, page), bytes.Repeat([]byte{2}, page)
	setup := func(p diskmodel.Profile) *diskmodel.Disk {
		d := synced(t, p, 2*page)
		must(t, d.WriteAt(v1, page))
		must(t, d.WriteAt(v2, page))
		return d
	}
	sectors := func(img *diskmodel.Image) []byte { // one byte per sector of page 1
		var s []byte
		for off := page; off < 2*page; off += mmapfile.SectorBytes {
			s = append(s, img.Data[off])
		}
		return s
	}
	d := setup(diskmodel.LinuxStrict)
	old := sectors(image(t, d, always(false)))
	newest := sectors(image(t, d, script(map[string]int{"page": 1})))
	middle := sectors(image(t, d, script(map[string]int{"page": 2, "unit": 1})))
	// Torn: the unit decisions alternate newest and durable.
	k := 0
	torn := sectors(image(t, d, diskmodel.Func(func(label string, n int) int {
		switch label {
		case "page":
			return 2
		case "unit":
			k++
			return (k % 2) * (n - 1)
		}
		return 0
	})))
	for name, c := range map[string]struct{ got, want []byte }{
		"old":          {old, bytes.Repeat([]byte{0}, 8)},
		"new":          {newest, bytes.Repeat([]byte{2}, 8)},
		"intermediate": {middle, bytes.Repeat([]byte{1}, 8)},
		"torn":         {torn, []byte{2, 0, 2, 0, 2, 0, 2, 0}},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s outcome: sectors %v, want %v", name, c.got, c.want)
		}
	}

	// Under atomic-4k the same decisions can pick a version, never tear.
	d = setup(diskmodel.Atomic4K)
	for seed := range uint64(200) {
		s := sectors(image(t, d, diskmodel.Seeded(seed)))
		if !bytes.Equal(s, bytes.Repeat(s[:1], len(s))) {
			t.Fatalf("atomic-4k image tore a page: sectors %v", s)
		}
	}
}

func TestGrowWithoutSyncCanBeLost(t *testing.T) {
	d := synced(t, diskmodel.LinuxStrict, page)
	must(t, d.Grow(4*page))
	must(t, d.WriteAt([]byte("tail"), 3*page))
	must(t, d.SyncRange(3*page, 4)) // the data is durable, the size is not
	if img := image(t, d, always(false)); len(img.Data) != page {
		t.Fatalf("a crash with the size lost left %d bytes, want %d", len(img.Data), page)
	}
	img := image(t, d, always(true))
	if len(img.Data) != 4*page || string(img.Data[3*page:3*page+4]) != "tail" {
		t.Fatalf("a crash with the size kept lost the synced tail")
	}
	must(t, d.Sync())
	if img := image(t, d, always(false)); len(img.Data) != 4*page {
		t.Fatalf("after Sync a crash left %d bytes, want %d", len(img.Data), 4*page)
	}
}

func TestUnsyncedCreationCanVanish(t *testing.T) {
	d := diskmodel.New(diskmodel.Options{})
	must(t, d.Grow(page))
	must(t, d.WriteAt([]byte("x"), 0))
	must(t, d.SyncRange(0, 1)) // data durable, the file itself is not
	if img := image(t, d, always(false)); img.Exists {
		t.Fatal("an unsynced creation survived the 'lost' choice")
	}
	if _, err := diskmodel.FromImage(image(t, d, always(false)), diskmodel.Options{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("reopening a vanished file: %v, want fs.ErrNotExist", err)
	}
	if img := image(t, d, always(true)); !img.Exists || img.Data[0] != 'x' {
		t.Fatal("an unsynced creation cannot survive with its synced data")
	}
	must(t, d.Sync())
	if img := image(t, d, always(false)); !img.Exists {
		t.Fatal("a synced creation vanished")
	}
}

// failAfter returns a running chooser under which every fault decision is
// "no" until *on is set, then "yes".
func failAfter(on *bool) diskmodel.Chooser {
	return diskmodel.Func(func(_ string, n int) int {
		if *on {
			return n - 1
		}
		return 0
	})
}

func TestSyncErrorPoisonsAndLeavesDataUndurable(t *testing.T) {
	for name, barrier := range map[string]func(*diskmodel.Disk) error{
		"Sync":      func(d *diskmodel.Disk) error { return d.Sync() },
		"SyncRange": func(d *diskmodel.Disk) error { return d.SyncRange(0, page) },
	} {
		t.Run(name, func(t *testing.T) {
			var fail bool
			d := diskmodel.New(diskmodel.Options{Profile: diskmodel.SyncErrors, Chooser: failAfter(&fail)})
			must(t, d.Grow(page))
			must(t, d.Sync())
			must(t, d.WriteAt([]byte("new"), 0))
			fail = true
			if err := barrier(d); !errors.Is(err, syscall.EIO) {
				t.Fatalf("failing barrier = %v, want EIO", err)
			}
			for op, err := range map[string]error{
				"WriteAt": d.WriteAt([]byte("a"), 0), "Sync": d.Sync(),
				"SyncRange": d.SyncRange(0, 1), "Grow": d.Grow(2 * page),
			} {
				if !errors.Is(err, mmapfile.ErrPoisoned) {
					t.Errorf("%s after a failed barrier = %v, want ErrPoisoned", op, err)
				}
			}
			if img := image(t, d, always(false)); img.Data[0] != 0 {
				t.Error("after a failed barrier the write is forced durable")
			}
			if img := image(t, d, always(true)); string(img.Data[:3]) != "new" {
				t.Error("after a failed barrier the write cannot have reached the disk")
			}
			if c := d.Counters(); c.FailedSyncs != 1 {
				t.Errorf("FailedSyncs = %d, want 1", c.FailedSyncs)
			}
		})
	}
}

func TestNoSpace(t *testing.T) {
	d := diskmodel.New(diskmodel.Options{Profile: diskmodel.NoSpace, Chooser: always(true)})
	if err := d.Grow(page); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Grow on a full disk = %v, want ENOSPC", err)
	}
	if d.Size() != 0 {
		t.Fatalf("a failed Grow changed the size to %d", d.Size())
	}
	must(t, d.Sync()) // a full disk does not poison
}

func TestBypassStoreDetected(t *testing.T) {
	d := synced(t, diskmodel.LinuxStrict, page)
	must(t, d.WriteAt([]byte("ok"), 0))
	d.Bytes(10, 1)[0] = 'X' // what the engine must never do
	var be *diskmodel.BypassError
	if _, err := d.CrashImage(always(false), nil); !errors.As(err, &be) || be.Off != 10 {
		t.Fatalf("CrashImage after a bypassing store = %v, want BypassError at 10", err)
	}
	if err := d.SyncRange(0, page); !errors.As(err, &be) {
		t.Fatalf("SyncRange after a bypassing store = %v, want BypassError", err)
	}
}

func TestHistoriesDroppedAtBarriers(t *testing.T) {
	d := synced(t, diskmodel.LinuxStrict, 4*page)
	for i := range 100 {
		must(t, d.WriteAt(bytes.Repeat([]byte{byte(i)}, page), int64(i%4)*page))
	}
	c := d.Counters()
	if c.HistoryBytes == 0 || c.HistoryBytes > int64(4*page*diskmodel.MaxVersionsPerUnit) {
		t.Fatalf("history holds %d bytes: not bounded by %d versions per unit", c.HistoryBytes, diskmodel.MaxVersionsPerUnit)
	}
	must(t, d.SyncRange(0, 2*page))
	if got := d.Counters().HistoryBytes; got != c.HistoryBytes/2 {
		t.Fatalf("SyncRange of half the pages left %d history bytes of %d", got, c.HistoryBytes)
	}
	must(t, d.Sync())
	if got := d.Counters().HistoryBytes; got != 0 {
		t.Fatalf("Sync left %d history bytes", got)
	}
}

func TestMediaFaults(t *testing.T) {
	d := synced(t, diskmodel.Media, 4*page)
	must(t, d.WriteAt(bytes.Repeat([]byte{7}, page), 2*page))
	clean := image(t, d, always(false)).Data
	flipped := image(t, d, script(map[string]int{"bitFlip": 1, "flipBit": 8*page + 3})).Data
	if diff := bitsDiffer(clean, flipped); diff != 1 || flipped[page]&(1<<3) == 0 {
		t.Fatalf("bit flip changed %d bits, want bit 3 of byte %d", diff, page)
	}
	mis := image(t, d, script(map[string]int{"misdirect": 1, "misdirectFrom": 2, "misdirectTo": 0})).Data
	if mis[0] != 7 || mis[2*page] != 0 {
		t.Fatalf("misdirected write: page 0 starts %d (want 7), page 2 starts %d (want 0)", mis[0], mis[2*page])
	}
	// Only a page with unsynced writes is written back, so only its
	// content can go astray: page 2 is the one, whatever the index asked.
	if mis1 := image(t, d, script(map[string]int{"misdirect": 1, "misdirectFrom": 1, "misdirectTo": 0})).Data; !bytes.Equal(mis1, mis) {
		t.Fatal("a misdirected write took its content from a page with no unsynced write")
	}
	// One fault per crash: with a bit flipped, no write goes astray.
	both := image(t, d, script(map[string]int{"bitFlip": 1, "flipBit": 8*page + 3, "misdirect": 1, "misdirectFrom": 2, "misdirectTo": 0})).Data
	if diff := bitsDiffer(clean, both); diff != 1 {
		t.Fatalf("a bit flip and a misdirected write asked: %d bits changed, want the one flipped", diff)
	}
	must(t, d.Sync())
	if none := image(t, d, script(map[string]int{"misdirect": 1, "misdirectFrom": 2, "misdirectTo": 0})).Data; !bytes.Equal(none, d.Bytes(0, len(none))) {
		t.Fatal("a misdirected write with nothing unsynced")
	}
	// A lost write: a barrier covered page 2's second version, yet the
	// page keeps its first; page 3, never changed by a barrier, has no
	// older version to keep.
	must(t, d.WriteAt(bytes.Repeat([]byte{8}, page), 2*page))
	must(t, d.SyncRange(2*page, page))
	lost := image(t, d, script(map[string]int{"lostWrite": 1, "lostPage": -1})).Data
	if lost[2*page] != 7 || !bytes.Equal(lost[:2*page], d.Bytes(0, 2*page)) || !bytes.Equal(lost[3*page:], d.Bytes(3*page, page)) {
		t.Fatalf("lost write: page 2 starts %d (want the 7 written before the last barrier), or another page changed", lost[2*page])
	}
	if img := image(t, d, always(false)).Data; img[2*page] != 8 {
		t.Fatal("a page a barrier covered lost its write with no media fault asked")
	}
	// Two barriers, each over one sector of page 3: a lost write loses
	// the last one's sector only; the first was another write, kept.
	sector := d.Profile().AtomicBytes
	must(t, d.WriteAt(bytes.Repeat([]byte{9}, sector), 3*page))
	must(t, d.SyncRange(3*page, int64(sector)))
	must(t, d.WriteAt(bytes.Repeat([]byte{10}, sector), 3*page+int64(sector)))
	must(t, d.SyncRange(3*page+int64(sector), int64(sector)))
	stale := d.Stale()
	if len(stale) != 2 || stale[1] != 3*page {
		t.Fatalf("pages a lost write may hit: %v, want pages 2 and 3", stale)
	}
	one := image(t, d, script(map[string]int{"lostWrite": 1, "lostPage": 1})).Data
	if one[3*page] != 9 || one[3*page+sector] != 0 {
		t.Fatalf("a lost write of page 3 left its sectors starting %d and %d, want 9 kept and the last barrier's 10 gone", one[3*page], one[3*page+sector])
	}
}

func bitsDiffer(a, b []byte) int {
	n := 0
	for i := range a {
		for x := a[i] ^ b[i]; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

func TestReopen(t *testing.T) {
	d := diskmodel.New(diskmodel.Options{})
	must(t, d.Grow(page))
	must(t, d.Sync())
	must(t, d.WriteAt([]byte("unsynced"), 0))
	if err := d.Reopen(); err == nil {
		t.Fatal("Reopen of an open disk succeeded")
	}
	must(t, d.Close())
	if err := d.WriteAt([]byte("x"), 0); !errors.Is(err, mmapfile.ErrClosed) {
		t.Fatalf("WriteAt on a closed disk = %v, want ErrClosed", err)
	}
	must(t, d.Reopen())
	if got := string(d.Bytes(0, 8)); got != "unsynced" {
		t.Fatalf("after Reopen the file reads %q, want the unsynced write", got)
	}
	if img := image(t, d, always(false)); img.Data[0] != 0 {
		t.Error("Reopen made an unsynced write durable")
	}
	must(t, d.WriteAt([]byte("again"), 0))
	must(t, d.Close())

	var fail bool
	p := diskmodel.New(diskmodel.Options{Profile: diskmodel.SyncErrors, Chooser: failAfter(&fail)})
	must(t, p.Grow(page))
	fail = true
	if err := p.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("failing Sync = %v, want EIO", err)
	}
	must(t, p.Close())
	if err := p.Reopen(); !errors.Is(err, mmapfile.ErrPoisoned) {
		t.Fatalf("Reopen after a failed barrier = %v, want ErrPoisoned", err)
	}
}
