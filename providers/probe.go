package providers

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode/utf16"

	"golang.org/x/sys/unix"
)

// FSInfo is what probing a filesystem superblock found.
type FSInfo struct {
	Type  string // iso9660, udf, vfat, ext4 (ext2/3/4), xfs, btrfs; "" unknown
	Label string
}

// probeSize is how much of a device ProbeFS reads (btrfs' superblock sits
// at 64 KiB; UDF's anchor at sector 256 of 2 KiB).
const probeSize = 0x10000 + 0x1000

// ProbeFS identifies the filesystem on r (a block device or image) from its
// superblock and returns its type and label, without mounting or running
// blkid. It knows the filesystems config drives and CD-ROMs use.
func ProbeFS(r io.ReaderAt) (FSInfo, error) {
	buf := make([]byte, probeSize)
	n, err := r.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return FSInfo{}, fmt.Errorf("reading superblock: %w", err)
	}
	buf = buf[:n]
	at := func(off, l int) []byte {
		if off+l > len(buf) {
			return nil
		}
		return buf[off : off+l]
	}
	// UDF: a volume recognition sequence with NSR02/NSR03 after 32 KiB.
	// Checked before ISO9660 because UDF bridge discs carry both.
	if hasUDF(buf) {
		return FSInfo{Type: "udf", Label: udfLabel(r)}, nil
	}
	if bytes.Equal(at(0x8001, 5), []byte("CD001")) && len(buf) > 0x8000 && buf[0x8000] == 1 {
		return FSInfo{Type: "iso9660", Label: trimLabel(at(0x8028, 32))}, nil
	}
	if m := at(1024+56, 2); m != nil && binary.LittleEndian.Uint16(m) == 0xEF53 {
		return FSInfo{Type: "ext4", Label: trimLabel(at(1024+120, 16))}, nil
	}
	if bytes.Equal(at(0, 4), []byte("XFSB")) {
		return FSInfo{Type: "xfs", Label: trimLabel(at(108, 12))}, nil
	}
	if bytes.Equal(at(0x10040, 8), []byte("_BHRfS_M")) {
		return FSInfo{Type: "btrfs", Label: trimLabel(at(0x10000+0x12b, 256))}, nil
	}
	if sig := at(510, 2); sig != nil && sig[0] == 0x55 && sig[1] == 0xAA {
		switch {
		case bytes.HasPrefix(at(0x52, 8), []byte("FAT32")):
			return FSInfo{Type: "vfat", Label: fatLabel(at(0x47, 11))}, nil
		case bytes.HasPrefix(at(0x36, 8), []byte("FAT")):
			return FSInfo{Type: "vfat", Label: fatLabel(at(0x2B, 11))}, nil
		}
	}
	return FSInfo{}, nil
}

func hasUDF(buf []byte) bool {
	for off := 0x8000; off+6 <= len(buf) && off < 0x8000+16*2048; off += 2048 {
		id := string(buf[off+1 : off+6])
		if id == "NSR02" || id == "NSR03" {
			return true
		}
	}
	return false
}

// udfLabel reads the logical volume identifier: anchor (sector 256) →
// main volume descriptor sequence → logical volume descriptor (tag 6).
func udfLabel(r io.ReaderAt) string {
	for _, sec := range []int64{2048, 512, 1024, 4096} {
		if l, ok := udfLabelWithBlockSize(r, sec); ok {
			return l
		}
	}
	return ""
}

func udfLabelWithBlockSize(r io.ReaderAt, sec int64) (string, bool) {
	anchor := make([]byte, 512)
	if _, err := r.ReadAt(anchor, 256*sec); err != nil || binary.LittleEndian.Uint16(anchor) != 2 {
		return "", false
	}
	length := int64(binary.LittleEndian.Uint32(anchor[16:]))
	loc := int64(binary.LittleEndian.Uint32(anchor[20:]))
	d := make([]byte, 512)
	for i := int64(0); i < length/sec && i < 64; i++ {
		if _, err := r.ReadAt(d, (loc+i)*sec); err != nil {
			return "", false
		}
		switch binary.LittleEndian.Uint16(d) {
		case 6: // logical volume descriptor: dstring[128] at 84
			return dstring(d[84 : 84+128]), true
		case 8: // terminating descriptor
			return "", true
		}
	}
	return "", true
}

// dstring decodes an OSTA compressed-unicode d-string.
func dstring(b []byte) string {
	n := int(b[len(b)-1])
	if n == 0 || n > len(b)-1 {
		return ""
	}
	b = b[:n]
	switch b[0] {
	case 8:
		return string(b[1:])
	case 16:
		var u []uint16
		for i := 1; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	}
	return ""
}

func trimLabel(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimRight(string(b), " ")
}

func fatLabel(b []byte) string {
	l := trimLabel(b)
	if l == "NO NAME" {
		return ""
	}
	return l
}

// ProbeDevice opens path and probes it.
func ProbeDevice(path string) (FSInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return FSInfo{}, err
	}
	defer f.Close()
	info, err := ProbeFS(f)
	if err != nil {
		return FSInfo{}, fmt.Errorf("probing %s: %w", path, err)
	}
	return info, nil
}

// blockDevices lists /dev/<name> for every block device in /sys/class/block
// under root, sorted; devices of size 0 (empty CD drives, unused loops) are
// left out.
func blockDevices(root string) []string {
	ents, err := os.ReadDir(filepath.Join(root, "sys/class/block"))
	if err != nil {
		return nil
	}
	var devs []string
	for _, e := range ents {
		sz, err := os.ReadFile(filepath.Join(root, "sys/class/block", e.Name(), "size"))
		if err == nil && strings.TrimSpace(string(sz)) == "0" {
			continue
		}
		devs = append(devs, filepath.Join(root, "dev", e.Name()))
	}
	sort.Strings(devs)
	return devs
}

// findLabel returns the device whose filesystem label is exactly label:
// /dev/disk/by-label/<label> when udev made it, else the first block device
// whose superblock carries it.
func findLabel(root, label string) (string, error) {
	if strings.Contains(label, "/") {
		return "", fmt.Errorf("invalid label %q: must be a single path component", label)
	}
	if p, err := filepath.EvalSymlinks(filepath.Join(root, "dev/disk/by-label", label)); err == nil {
		return p, nil
	}
	for _, d := range blockDevices(root) {
		info, err := ProbeDevice(d)
		if err == nil && info.Label == label {
			return d, nil
		}
	}
	return "", nil
}

// findFSType returns the block devices whose filesystem type is one of
// types. CD-ROM drives (sr*) count only when the drive reports a disc.
func findFSType(root string, types ...string) ([]string, error) {
	var out []string
	for _, d := range blockDevices(root) {
		info, err := ProbeDevice(d)
		if err != nil {
			continue
		}
		for _, t := range types {
			if info.Type == t {
				if strings.HasPrefix(filepath.Base(d), "sr") && !cdromHasDisc(d) {
					break
				}
				out = append(out, d)
				break
			}
		}
	}
	return out, nil
}

// cdromHasDisc asks the CD-ROM driver whether a disc is ready
// (CDROM_DRIVE_STATUS == CDS_DISC_OK).
func cdromHasDisc(dev string) bool {
	fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	const cdromDriveStatus, cdsDiscOK = 0x5326, 4
	st, err := unix.IoctlRetInt(fd, cdromDriveStatus)
	return err == nil && st == cdsDiscOK
}
