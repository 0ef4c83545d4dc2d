package disks

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"unicode/utf16"

	"golang.org/x/sys/unix"
)

// TableEntry is one used entry of a GPT, as read from the disk.
type TableEntry struct {
	Number   int    // 1-based slot in the entry array
	Start    int64  // first LBA (logical sectors)
	Size     int64  // sectors (last-first+1)
	TypeGUID string // upper case, canonical form
	GUID     string // unique partition GUID, upper case
	Label    string // GPT partition name
}

// Table is what ReadTable found on a disk.
type Table struct {
	SectorSize  int64 // logical sector size in bytes
	Sectors     int64 // disk size in logical sectors
	HasGPT      bool  // a valid primary or backup GPT header was found
	FirstUsable int64
	LastUsable  int64
	Entries     []TableEntry // sorted by Number
}

// Entry returns the partition with number n.
func (t *Table) Entry(n int) (TableEntry, bool) {
	for _, e := range t.Entries {
		if e.Number == n {
			return e, true
		}
	}
	return TableEntry{}, false
}

// ErrNotGPT: the disk carries no valid GPT header (primary or backup).
var ErrNotGPT = errors.New("no valid GPT")

// ReadTable reads the GPT of a block device or an image file in Go (no
// tools, no kernel partition support needed). A disk without a GPT is not
// an error: the Table then has HasGPT false and no entries.
func ReadTable(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading partition table of %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading partition table of %s: %w", path, err)
	}
	var size, ssz int64
	if st.Mode()&os.ModeDevice != 0 {
		fd := int(f.Fd())
		n, err := unix.IoctlGetInt(fd, unix.BLKSSZGET)
		if err != nil {
			return nil, fmt.Errorf("reading sector size of %s: %w", path, err)
		}
		ssz = int64(n)
		end, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, fmt.Errorf("reading size of %s: %w", path, err)
		}
		size = end
	} else {
		size = st.Size()
	}
	t, err := parseGPT(f, size, ssz)
	if err != nil {
		return nil, fmt.Errorf("reading partition table of %s: %w", path, err)
	}
	return t, nil
}

// parseGPT reads a GPT from r (a disk of size bytes). sectorSize 0 means
// unknown (an image file): 512 and 4096 are tried.
func parseGPT(r io.ReaderAt, size, sectorSize int64) (*Table, error) {
	sizes := []int64{sectorSize}
	if sectorSize == 0 {
		sizes = []int64{512, 4096}
	}
	for _, ss := range sizes {
		t := &Table{SectorSize: ss, Sectors: size / ss}
		if t.Sectors < 3 {
			continue
		}
		// Primary header at LBA 1, backup at the last LBA.
		for _, lba := range []int64{1, t.Sectors - 1} {
			ok, err := readGPTAt(r, t, lba)
			if err != nil {
				return nil, err
			}
			if ok {
				return t, nil
			}
		}
	}
	ss := sectorSize
	if ss == 0 {
		ss = 512
	}
	return &Table{SectorSize: ss, Sectors: size / ss}, nil
}

func readGPTAt(r io.ReaderAt, t *Table, lba int64) (bool, error) {
	hdr := make([]byte, t.SectorSize)
	if _, err := r.ReadAt(hdr, lba*t.SectorSize); err != nil {
		return false, fmt.Errorf("reading GPT header at LBA %d: %w", lba, err)
	}
	if !bytes.Equal(hdr[:8], []byte("EFI PART")) {
		return false, nil
	}
	le := binary.LittleEndian
	hsize := le.Uint32(hdr[12:])
	if hsize < 92 || int64(hsize) > t.SectorSize {
		return false, nil
	}
	want := le.Uint32(hdr[16:])
	h := append([]byte(nil), hdr[:hsize]...)
	copy(h[16:20], []byte{0, 0, 0, 0})
	if crc32.ChecksumIEEE(h) != want {
		return false, nil
	}
	if int64(le.Uint64(hdr[24:])) != lba {
		return false, nil
	}
	t.FirstUsable = int64(le.Uint64(hdr[40:]))
	t.LastUsable = int64(le.Uint64(hdr[48:]))
	entLBA := int64(le.Uint64(hdr[72:]))
	num := int64(le.Uint32(hdr[80:]))
	esz := int64(le.Uint32(hdr[84:]))
	if esz < 128 || num > 1<<16 || num*esz > 64<<20 {
		return false, nil
	}
	arr := make([]byte, num*esz)
	if _, err := r.ReadAt(arr, entLBA*t.SectorSize); err != nil {
		return false, fmt.Errorf("reading GPT entries at LBA %d: %w", entLBA, err)
	}
	if crc32.ChecksumIEEE(arr) != le.Uint32(hdr[88:]) {
		return false, nil
	}
	t.HasGPT = true
	t.Entries = nil
	for i := int64(0); i < num; i++ {
		e := arr[i*esz : (i+1)*esz]
		typ := guidString(e[0:16])
		if typ == zeroGUID {
			continue
		}
		first, last := int64(le.Uint64(e[32:])), int64(le.Uint64(e[40:]))
		u := make([]uint16, 36)
		for j := range u {
			u[j] = le.Uint16(e[56+2*j:])
		}
		name := string(utf16.Decode(u))
		if k := strings.IndexRune(name, 0); k >= 0 {
			name = name[:k]
		}
		t.Entries = append(t.Entries, TableEntry{
			Number:   int(i + 1),
			Start:    first,
			Size:     last - first + 1,
			TypeGUID: typ,
			GUID:     guidString(e[16:32]),
			Label:    name,
		})
	}
	return true, nil
}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

// guidString renders a GPT on-disk GUID (first three fields little endian).
func guidString(b []byte) string {
	le := binary.LittleEndian
	return strings.ToUpper(fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		le.Uint32(b[0:4]), le.Uint16(b[4:6]), le.Uint16(b[6:8]), b[8:10], b[10:16]))
}
