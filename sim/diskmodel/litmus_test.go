package diskmodel_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/sim/diskmodel"
	"pgregory.net/rapid"
)

// oracle is an independent account of what a crash may leave: a copy of
// the whole file after every operation, and for each page the first copy
// still reachable (the one taken at the last barrier covering it).
type oracle struct {
	snaps     [][]byte // content after each operation, len = live size
	since     []int    // per page: index of the first reachable snapshot
	syncedAt  int      // snapshot index of the last Sync, -1 if none
	syncRange [][2]int64
}

func (o *oracle) cur() []byte { return o.snaps[len(o.snaps)-1] }

func (o *oracle) push(b []byte) {
	o.snaps = append(o.snaps, b)
	for len(o.since)*page < len(b) {
		o.since = append(o.since, 0)
	}
}

// barrier makes pages [lo, hi) reachable only from the newest snapshot.
func (o *oracle) barrier(lo, hi int) {
	for p := lo; p < hi && p < len(o.since); p++ {
		o.since[p] = len(o.snaps) - 1
	}
}

// TestLitmusCrashStatesAllowed drives random operations and checks that
// every crash image the disk materializes is one the oracle allows: a file
// size set since the last Sync, and in each atomic unit a content the unit
// held since the last barrier covering it. A range made durable by
// SyncRange or Sync therefore survives every crash.
func TestLitmusCrashStatesAllowed(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := rapid.SampledFrom([]diskmodel.Profile{diskmodel.LinuxStrict, diskmodel.Atomic4K}).Draw(t, "profile")
		d := diskmodel.New(diskmodel.Options{Profile: p})
		o := &oracle{snaps: [][]byte{{}}, syncedAt: -1}
		t.Repeat(map[string]func(*rapid.T){
			"Grow": func(t *rapid.T) {
				size := rapid.IntRange(0, 16*page).Draw(t, "size")
				must(t, d.Grow(int64(size)))
				if size > len(o.cur()) {
					o.push(append(slices.Clone(o.cur()), make([]byte, size-len(o.cur()))...))
				}
			},
			"WriteAt": func(t *rapid.T) {
				if len(o.cur()) == 0 {
					t.Skip("empty")
				}
				off := rapid.IntRange(0, len(o.cur())-1).Draw(t, "off")
				n := rapid.IntRange(1, min(len(o.cur())-off, 3*page)).Draw(t, "n")
				b := bytes.Repeat([]byte{byte(len(o.snaps))}, n)
				must(t, d.WriteAt(b, int64(off)))
				next := slices.Clone(o.cur())
				copy(next[off:], b)
				o.push(next)
			},
			"SyncRange": func(t *rapid.T) {
				off := rapid.IntRange(0, len(o.cur())).Draw(t, "off")
				n := rapid.IntRange(0, len(o.cur())-off).Draw(t, "n")
				must(t, d.SyncRange(int64(off), int64(n)))
				if n > 0 {
					start, end := mmapfile.PageCover(int64(off), int64(n))
					o.barrier(int(start/page), int(end/page))
					o.syncRange = append(o.syncRange, [2]int64{int64(off), int64(n)})
				}
			},
			"Sync": func(t *rapid.T) {
				must(t, d.Sync())
				o.barrier(0, len(o.since))
				o.syncedAt = len(o.snaps) - 1
			},
			"Crash": func(t *rapid.T) {
				img, err := d.CrashImage(diskmodel.Rapid(t), nil)
				must(t, err)
				o.check(t, p, img)
			},
			"PowerCut": func(t *rapid.T) {
				// The machine boots on a crash image and goes on: what
				// it holds is an allowed image, and from then on the
				// only durable state.
				must(t, d.PowerCut(diskmodel.Rapid(t)))
				exists := d.Size() > 0 || o.syncedAt >= 0 // an empty file may have vanished
				img := &diskmodel.Image{Exists: exists, Data: slices.Clone(d.Bytes(0, int(d.Size())))}
				if exists {
					o.check(t, p, img)
				}
				o.snaps, o.since, o.syncedAt, o.syncRange = [][]byte{img.Data}, nil, -1, nil
				for len(o.since)*page < len(img.Data) {
					o.since = append(o.since, 0)
				}
				if exists {
					o.syncedAt = 0
				}
			},
		})
	})
}

func (o *oracle) check(t *rapid.T, p diskmodel.Profile, img *diskmodel.Image) {
	if !img.Exists {
		if o.syncedAt >= 0 {
			t.Fatalf("the file vanished although a Sync made its creation durable")
		}
		return
	}
	first := max(o.syncedAt, 0)
	sizeOK := false
	for _, s := range o.snaps[first:] {
		sizeOK = sizeOK || len(s) == len(img.Data)
	}
	if !sizeOK {
		t.Fatalf("crash left %d bytes: no size set since the last Sync", len(img.Data))
	}
	for lo := 0; lo < len(img.Data); lo += p.AtomicBytes {
		hi := min(lo+p.AtomicBytes, len(img.Data))
		got := img.Data[lo:hi]
		ok := false
		for _, s := range o.snaps[o.since[lo/page]:] {
			ok = ok || bytes.Equal(got, unitOf(s, lo, hi))
		}
		if !ok {
			t.Fatalf("crash left bytes [%d,%d) = %v..., which that unit never held since its last barrier", lo, hi, got[:min(8, len(got))])
		}
	}
}

// unitOf returns s[lo:hi], reading bytes beyond s as zero.
func unitOf(s []byte, lo, hi int) []byte {
	u := make([]byte, hi-lo)
	if lo < len(s) {
		copy(u, s[lo:min(hi, len(s))])
	}
	return u
}

// TestLitmusReplayIdentical: a recorded choice list replays to the
// identical image, and a run of the same operations replays it too.
func TestLitmusReplayIdentical(t *testing.T) {
	run := func() *diskmodel.Disk {
		d := diskmodel.New(diskmodel.Options{})
		must(t, d.Grow(8*page))
		for i := range 20 {
			must(t, d.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, 700), int64(i*1300)))
			if i%7 == 6 {
				must(t, d.SyncRange(int64(i*900), 2000))
			}
		}
		return d
	}
	for seed := range uint64(50) {
		rec := &diskmodel.Recorder{Inner: diskmodel.Seeded(seed)}
		want := image(t, run(), rec)
		rep := &diskmodel.Replay{Choices: slices.Clone(rec.Choices)}
		got := image(t, run(), rep)
		must(t, rep.Err())
		if got.Exists != want.Exists || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("seed %d: replaying %d choices gave another image", seed, len(rec.Choices))
		}
	}
	// A replay that does not fit says so.
	rep := &diskmodel.Replay{Choices: []diskmodel.Choice{{Label: "bogus", N: 2, Value: 1}}}
	image(t, run(), rep)
	if rep.Err() == nil {
		t.Fatal("a schedule that does not fit replayed without complaint")
	}
}

// BenchmarkCrashImage1MiB measures how fast crash images of a 1 MiB file
// with 64 unsynced pages (several versions each) are materialized. In
// "SameYield" every image is taken at one yield point, as the exploration
// strategies do; in "NewYield" a write precedes each image, so each one
// also pays the scan for stores that bypassed WriteAt.
func BenchmarkCrashImage1MiB(b *testing.B) {
	for _, newYield := range []bool{false, true} {
		name := map[bool]string{false: "SameYield", true: "NewYield"}[newYield]
		b.Run(name, func(b *testing.B) {
			const size = 1 << 20
			d := diskmodel.New(diskmodel.Options{})
			must(b, d.Grow(size))
			must(b, d.Sync())
			for i := range 64 * 3 {
				p := int64(i%64) * (size / 64)
				must(b, d.WriteAt(bytes.Repeat([]byte{byte(i)}, 1500), p+int64(i%3)*512))
			}
			ch := diskmodel.Seeded(1)
			buf := make([]byte, size)
			one := []byte{1}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if newYield {
					must(b, d.WriteAt(one, 100))
				}
				img, err := d.CrashImage(ch, buf)
				if err != nil || len(img.Data) != size {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
