// Package demo holds small workloads that show the crash runner at work
// before the engine exists, and keep it honest after: a checksummed
// append-only log written correctly, and the same log with one barrier
// deliberately missing, which the runner must catch.
package demo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/gopersy/persy/mmapfile"
	"github.com/gopersy/persy/sim"
	"github.com/gopersy/persy/sim/diskmodel"
)

// The log's layout. Sector 0 holds the header. Records follow, each
// starting on a sector boundary and padded to whole sectors, so that a
// sector torn to garbage while a record is written never holds a byte of
// an acknowledged one. A record is
//
//	len u32 | seq u32 | crc u32 | payload
//
// where crc is the CRC32C of the record's offset, len, seq and payload: a
// torn, stale or misplaced record fails it.
const (
	headerBytes = mmapfile.SectorBytes
	recordHead  = 12
	growBytes   = mmapfile.PageBytes
	maxPayload  = 1500
	maxRecords  = 12
)

var (
	magic      = []byte("persy-go demo log v1\x00")
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

// AppendLog is the log written correctly: the file's growth and creation
// made durable with Sync before a record relies on them, each record made
// durable with SyncRange before it is acknowledged.
func AppendLog() sim.Workload {
	return sim.Workload{
		Name:        "append-log",
		Description: "checksummed append-only log, every barrier in place: acknowledged records survive, nothing torn is read",
		New:         func() sim.Program { return &appendLog{} },
	}
}

// AppendLogMissingBarrier is the same log without the Sync after the file
// grows: the new size is not durable when the records written into it are
// acknowledged, so a crash can lose them.
func AppendLogMissingBarrier() sim.Workload {
	return sim.Workload{
		Name:        "append-log-missing-barrier",
		Description: "the same log without the Sync after growing the file: the runner must find acknowledged records lost",
		Broken:      true,
		New:         func() sim.Program { return &appendLog{skipGrowSync: true} },
	}
}

// Workloads lists the demonstration workloads.
func Workloads() []sim.Workload {
	return []sim.Workload{AppendLog(), AppendLogMissingBarrier()}
}

type appendLog struct {
	skipGrowSync bool

	written [][]byte // payloads written, in order
	acked   int      // records known durable: their SyncRange returned
	created bool     // the header is durable
}

func payload(seq, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seq*131 + i*7 + 1)
	}
	return p
}

func recordCRC(off int64, n, seq uint32, p []byte) uint32 {
	var h [16]byte
	binary.LittleEndian.PutUint64(h[0:], uint64(off))
	binary.LittleEndian.PutUint32(h[8:], n)
	binary.LittleEndian.PutUint32(h[12:], seq)
	return crc32.Update(crc32.Checksum(h[:], castagnoli), castagnoli, p)
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }

func (l *appendLog) Run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	return sim.RunResult(l.run(s, ch))
}

func (l *appendLog) run(s mmapfile.Storage, ch diskmodel.Chooser) error {
	if err := s.Grow(growBytes); err != nil {
		return err
	}
	if err := s.WriteAt(magic, 0); err != nil {
		return err
	}
	// The creation, the size and the header in one barrier.
	if err := s.Sync(); err != nil {
		return err
	}
	l.created = true
	tail := int64(headerBytes)
	records := 1 + ch.Choose("records", maxRecords)
	for seq := range records {
		p := payload(seq, ch.Choose("payload", maxPayload+1))
		l.written = append(l.written, p)
		n := roundUp(recordHead+int64(len(p)), mmapfile.SectorBytes)
		if tail+n > s.Size() {
			if err := s.Grow(roundUp(tail+n, growBytes)); err != nil {
				return err
			}
			if !l.skipGrowSync {
				if err := s.Sync(); err != nil {
					return err
				}
			}
		}
		rec := make([]byte, recordHead+len(p))
		binary.LittleEndian.PutUint32(rec[0:], uint32(len(p)))
		binary.LittleEndian.PutUint32(rec[4:], uint32(seq))
		binary.LittleEndian.PutUint32(rec[8:], recordCRC(tail, uint32(len(p)), uint32(seq), p))
		copy(rec[recordHead:], p)
		if err := s.WriteAt(rec, tail); err != nil {
			return err
		}
		if err := s.SyncRange(tail, n); err != nil {
			return err
		}
		l.acked = seq + 1
		tail += n
	}
	return s.Close()
}

// Check reads the log back: it must hold a prefix of the records written,
// each exactly as written, at least as long as the acknowledged ones. On
// an image with a media fault durability is not promised (a flipped bit
// in an acknowledged record loses it and the rest); only wrong data is a
// failure there.
func (l *appendLog) Check(r sim.Reboot) error {
	s, durable := r.Storage, !r.Damaged
	if s == nil {
		if durable && l.created {
			return fmt.Errorf("demo: the log file is gone after its creation was synced")
		}
		return nil
	}
	size := s.Size()
	if size < headerBytes || !bytes.Equal(s.Bytes(0, len(magic)), magic) {
		if durable && l.created {
			return fmt.Errorf("demo: the header is lost after it was synced (file of %d bytes)", size)
		}
		return nil
	}
	got := 0
	for off := int64(headerBytes); off+recordHead <= size; got++ {
		h := s.Bytes(off, recordHead)
		n := binary.LittleEndian.Uint32(h[0:])
		seq := binary.LittleEndian.Uint32(h[4:])
		crc := binary.LittleEndian.Uint32(h[8:])
		if n > maxPayload || off+recordHead+int64(n) > size {
			break
		}
		p := s.Bytes(off+recordHead, int(n))
		if recordCRC(off, n, seq, p) != crc {
			break
		}
		if int(seq) != got || got >= len(l.written) || !bytes.Equal(p, l.written[got]) {
			return fmt.Errorf("demo: record %d at offset %d reads back as %d bytes of record %d that were never written there", got, off, n, seq)
		}
		off += roundUp(recordHead+int64(n), mmapfile.SectorBytes)
	}
	if durable && got < l.acked {
		return fmt.Errorf("demo: %d records read back, %d were acknowledged: record %d is lost", got, l.acked, got)
	}
	return nil
}
