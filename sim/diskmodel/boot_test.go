package diskmodel_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/gopersy/persy/sim/diskmodel"
)

// testImage is 2.5 OS pages of a pattern: whole pages a disk shares with
// the image until it writes them, and a short last page of its own.
func testImage() *diskmodel.Image {
	data := make([]byte, 2*page+page/2)
	for i := range data {
		data[i] = byte(i*7 + 3)
	}
	return &diskmodel.Image{Exists: true, Data: data}
}

// TestDisksOnOneImageKeepTheirWrites: disks booted on one image share its
// pages until they write them; a write, durable or not, reaches neither
// the image nor another disk booted on it.
func TestDisksOnOneImageKeepTheirWrites(t *testing.T) {
	img := testImage()
	orig := bytes.Clone(img.Data)
	a, err := diskmodel.FromImage(img, diskmodel.Options{})
	must(t, err)
	b, err := diskmodel.FromImage(img, diskmodel.Options{})
	must(t, err)
	must(t, a.WriteAt([]byte("first page"), 10))
	must(t, a.WriteAt([]byte("across a page boundary"), page-5))
	must(t, a.WriteAt([]byte("tail"), 2*page+100))
	must(t, a.Sync())
	must(t, a.WriteAt([]byte("unsynced"), page+200))

	if !bytes.Equal(img.Data, orig) {
		t.Fatal("a write to a disk changed the image it booted on")
	}
	if got := b.Bytes(0, len(orig)); !bytes.Equal(got, orig) {
		t.Fatal("a write to one disk shows on another booted on the same image")
	}
	if got := image(t, b, always(true)).Data; !bytes.Equal(got, orig) {
		t.Fatal("a crash image of the unwritten disk differs from the image it booted on")
	}
	want := bytes.Clone(orig)
	copy(want[10:], "first page")
	copy(want[page-5:], "across a page boundary")
	copy(want[2*page+100:], "tail")
	if got := image(t, a, always(false)).Data; !bytes.Equal(got, want) {
		t.Fatal("the crash image losing every unsynced write is not the image and the synced writes")
	}
	copy(want[page+200:], "unsynced")
	if got := image(t, a, always(true)).Data; !bytes.Equal(got, want) {
		t.Fatal("the crash image keeping every write is not the image and every write")
	}
	if got := a.Bytes(0, len(want)); !bytes.Equal(got, want) {
		t.Fatal("the written disk does not read its writes")
	}
}

// TestFrozenDiskWritesNothing: a frozen disk reads its image, refuses
// writes and grows with ErrFrozen, and leaves the image as it was.
func TestFrozenDiskWritesNothing(t *testing.T) {
	img := testImage()
	orig := bytes.Clone(img.Data)
	d, err := diskmodel.FromImage(img, diskmodel.Options{Frozen: true})
	must(t, err)
	if got := d.Bytes(0, len(orig)); !bytes.Equal(got, orig) {
		t.Fatal("a frozen disk does not read its image")
	}
	if err := d.WriteAt([]byte("x"), 5); !errors.Is(err, diskmodel.ErrFrozen) {
		t.Fatalf("WriteAt on a frozen disk = %v, want ErrFrozen", err)
	}
	if err := d.Grow(int64(len(orig)) + page); !errors.Is(err, diskmodel.ErrFrozen) {
		t.Fatalf("Grow on a frozen disk = %v, want ErrFrozen", err)
	}
	must(t, d.Grow(page)) // no growth: nothing to refuse
	must(t, d.Sync())
	if d.Size() != int64(len(orig)) || !bytes.Equal(img.Data, orig) {
		t.Fatal("a frozen disk changed its size or its image")
	}
	if got := image(t, d, always(true)).Data; !bytes.Equal(got, orig) {
		t.Fatal("a crash image of a frozen disk differs from its image")
	}
	must(t, d.Close())
}

// TestBootIntoABuffer: a disk booted into a used buffer reads its image
// and zeros past it, whatever the buffer held.
func TestBootIntoABuffer(t *testing.T) {
	img := testImage()
	buf := bytes.Repeat([]byte{0xff}, 4*page)
	d, err := diskmodel.FromImage(img, diskmodel.Options{Buffer: buf[:0]})
	must(t, err)
	if got := d.Bytes(0, len(img.Data)); !bytes.Equal(got, img.Data) {
		t.Fatal("a disk booted into a buffer does not read its image")
	}
	if &buf[0] != &d.Bytes(0, 1)[0] {
		t.Fatal("a disk with room in its buffer did not boot into it")
	}
	must(t, d.Grow(3*page))
	if got := d.Bytes(int64(len(img.Data)), 3*page-len(img.Data)); !bytes.Equal(got, make([]byte, len(got))) {
		t.Fatal("bytes past the image read what the buffer held, not zeros")
	}
}

// TestBypassThroughAnOldViewDetected: a store through a view taken
// before a grow, into the second page it covers, is found at the next
// barrier.
func TestBypassThroughAnOldViewDetected(t *testing.T) {
	d := synced(t, diskmodel.LinuxStrict, 3*page)
	v := d.Bytes(page+100, page) // pages 1 and 2
	must(t, d.Grow(8*page))
	must(t, d.WriteAt([]byte("elsewhere"), 6*page))
	v[page-1] = 'Y' // what the engine must never do: byte 2*page+99
	var be *diskmodel.BypassError
	if err := d.Sync(); !errors.As(err, &be) || be.Off != 2*page+99 {
		t.Fatalf("Sync after a store through an old view = %v, want BypassError at %d", err, 2*page+99)
	}
}

// account is a Chooser taking its answers from a list, by label, and
// keeping the crash image's account.
type account struct {
	answers map[string][]int
	lines   []string
}

func (a *account) Choose(label string, n int) int {
	if len(a.answers[label]) == 0 {
		return 0
	}
	v := a.answers[label][0]
	a.answers[label] = a.answers[label][1:]
	return v
}

func (a *account) Narrate(line string) { a.lines = append(a.lines, line) }

// TestCrashImageAccount: a Narrator is told what the image made of each
// decision, and the account matches the bytes: the page lost, the page
// persisted, and the torn page's sector by sector versions.
func TestCrashImageAccount(t *testing.T) {
	d := synced(t, diskmodel.LinuxStrict, 4*page)
	must(t, d.WriteAt(bytes.Repeat([]byte{1}, page), 0))
	must(t, d.WriteAt(bytes.Repeat([]byte{2}, page), page))
	must(t, d.WriteAt(bytes.Repeat([]byte{3}, 1024), 2*page))
	must(t, d.WriteAt(bytes.Repeat([]byte{4}, 512), 2*page+512))
	a := &account{answers: map[string][]int{
		diskmodel.LabelPage: {diskmodel.PageLost, diskmodel.PagePersisted, diskmodel.PageMixed},
		diskmodel.LabelUnit: {2, 1},
	}}
	img, err := d.CrashImage(a, nil)
	must(t, err)
	want := []string{
		"page 0: lost, 8 sectors keep their durable version",
		"page 4096: persisted, 8 sectors at their newest version",
		"page 8192: torn, by sector: 8192 version 1 of 1, 8704 version 1 of 2",
	}
	if got := strings.Join(a.lines, "\n"); got != strings.Join(want, "\n") {
		t.Fatalf("the account:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if img.Data[0] != 0 || img.Data[page] != 2 || img.Data[2*page] != 3 || img.Data[2*page+512] != 3 {
		t.Fatal("the image does not hold what its account says")
	}
}

// TestFrozenBypassDetected: a store through a frozen disk's view, which
// is the image's memory, is a *BypassError at its next barrier, Err and
// Close.
func TestFrozenBypassDetected(t *testing.T) {
	img := testImage()
	f, err := diskmodel.FromImage(img, diskmodel.Options{Frozen: true})
	must(t, err)
	f.Bytes(page+100, 1)[0] ^= 0xff // what the engine must never do
	var be *diskmodel.BypassError
	if err := f.Sync(); !errors.As(err, &be) || be.Off != page {
		t.Fatalf("Sync after a store through a frozen view = %v, want BypassError at page %d", err, page)
	}
	g, err := diskmodel.FromImage(testImage(), diskmodel.Options{Frozen: true})
	must(t, err)
	g.Bytes(2*page+1, 1)[0] ^= 0xff // in the short last page
	if err := g.Close(); !errors.As(err, &be) || be.Off != 2*page {
		t.Fatalf("Close after a store through a frozen view = %v, want BypassError at page %d", err, 2*page)
	}
}

// TestPowerCutLeavesViewsOfABufferAlone: a disk booted into a buffer
// boots a PowerCut in new memory: views taken before read what they read.
func TestPowerCutLeavesViewsOfABufferAlone(t *testing.T) {
	d, err := diskmodel.FromImage(testImage(), diskmodel.Options{Buffer: make([]byte, 0, 8*page)})
	must(t, err)
	v := d.Bytes(0, 16)
	must(t, d.WriteAt([]byte("unsynced"), 0))
	seen := bytes.Clone(v)
	must(t, d.PowerCut(always(false)))
	if !bytes.Equal(v, seen) {
		t.Fatalf("a view taken before the power cut reads %q, read %q", v, seen)
	}
}
