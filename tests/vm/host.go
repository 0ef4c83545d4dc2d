package vm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Partition is one GPT entry read from an image on the host.
type Partition struct {
	Number     int
	Start      int64  // first sector
	Size       int64  // sectors
	SectorSize int64  // logical sector size of the table, bytes
	TypeGUID   string // upper case, e.g. 0FC63DAF-8483-4772-8E79-3D69D8477DE4
	GUID       string // unique partition GUID, upper case
	Name       string // partition label
	Attributes string // 16 hex digits
}

// Offset is the partition's byte offset in the image.
func (p Partition) Offset() int64 { return p.Start * p.SectorSize }

// Bytes is the partition's length in bytes.
func (p Partition) Bytes() int64 { return p.Size * p.SectorSize }

var (
	sgRowRe  = regexp.MustCompile(`^\s*(\d+)\s+(\d+)\s+(\d+)\s+`)
	sgSectRe = regexp.MustCompile(`Sector size \(logical(?:/physical)?\): (\d+)`)
)

// PartitionTable reads the GPT of a disk image with `sgdisk -p` and `sgdisk -i N`.
// An image without a GPT (blank, or MBR only) is an error.
func PartitionTable(img string) ([]Partition, error) {
	out, err := runTool("sgdisk", "-p", img)
	if err != nil {
		return nil, err
	}
	if strings.Contains(out, "Creating new GPT entries") || strings.Contains(out, "converting MBR to GPT") {
		return nil, fmt.Errorf("sgdisk -p %s: no GPT on the image", img)
	}
	if !strings.Contains(out, "Number  Start (sector)") {
		return nil, fmt.Errorf("sgdisk -p %s: no partition table listing:\n%s", img, out)
	}
	sect := int64(512)
	if m := sgSectRe.FindStringSubmatch(out); m != nil {
		sect, _ = strconv.ParseInt(m[1], 10, 64)
	}
	var parts []Partition
	inTable := false
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "Number  Start (sector)") {
			inTable = true
			continue
		}
		if !inTable {
			continue
		}
		m := sgRowRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		p, err := partitionInfo(img, n)
		if err != nil {
			return nil, err
		}
		p.SectorSize = sect
		parts = append(parts, p)
	}
	return parts, nil
}

func partitionInfo(img string, n int) (Partition, error) {
	out, err := runTool("sgdisk", "-i", strconv.Itoa(n), img)
	if err != nil {
		return Partition{}, err
	}
	p := Partition{Number: n}
	var first, last int64 = -1, -1
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		switch k {
		case "Partition GUID code":
			p.TypeGUID, _, _ = strings.Cut(v, " ")
		case "Partition unique GUID":
			p.GUID = strings.TrimSpace(v)
		case "First sector":
			first, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		case "Last sector":
			last, _ = strconv.ParseInt(strings.Fields(v)[0], 10, 64)
		case "Attribute flags":
			p.Attributes = strings.TrimSpace(v)
		case "Partition name":
			p.Name = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
		}
	}
	if first < 0 || last < first || p.TypeGUID == "" {
		return Partition{}, fmt.Errorf("sgdisk -i %d %s: cannot parse:\n%s", n, img, out)
	}
	p.Start, p.Size = first, last-first+1
	return p, nil
}

// Probed is what blkid found at one offset of an image.
type Probed struct {
	Type  string            // "" when nothing was recognised
	Label string            // LABEL
	UUID  string            // UUID
	Tags  map[string]string // every tag blkid printed (VERSION, BLOCK_SIZE, PTTYPE, ...)
}

// Probe runs a low-level probe (`blkid -p -O offset`) on an image without a loop device.
// Nothing found is not an error: Type is then "".
func Probe(img string, offset int64) (Probed, error) {
	return probe(img, offset, 0)
}

// ProbeRange is Probe limited to size bytes (so that a filesystem signature at the end
// of the whole image, e.g. md 0.9 or a backup GPT, is not mistaken for the range's).
func ProbeRange(img string, offset, size int64) (Probed, error) {
	return probe(img, offset, size)
}

func probe(img string, offset, size int64) (Probed, error) {
	args := []string{"-p", "-o", "export", "-O", strconv.FormatInt(offset, 10)}
	if size > 0 {
		args = append(args, "-S", strconv.FormatInt(size, 10))
	}
	cmd := exec.Command("blkid", append(args, img)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	pr := Probed{Tags: map[string]string{}}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		return pr, nil // nothing detected
	}
	if err != nil {
		return pr, fmt.Errorf("blkid -p -O %d %s: %w: %s", offset, img, err, strings.TrimSpace(stderr.String()))
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || k == "DEVNAME" {
			continue
		}
		pr.Tags[k] = unescapeExport(v)
	}
	pr.Type, pr.Label, pr.UUID = pr.Tags["TYPE"], pr.Tags["LABEL"], pr.Tags["UUID"]
	return pr, nil
}

// unescapeExport undoes blkid's "-o export" shell escaping (a backslash before
// every unsafe byte).
func unescapeExport(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// MdadmExamine runs `mdadm --examine` on the byte range [offset, offset+size) of an
// image (through a read-only loop device; size 0 = to the end) and returns its
// "Key : Value" lines, e.g. "Raid Level": "raid1", "Array State": "AA",
// "Data Offset": "2048 sectors", "Name": "flint-test:data", "Array UUID".
func MdadmExamine(img string, offset, size int64) (map[string]string, error) {
	var out string
	err := withLoop(img, offset, size, func(dev string) error {
		var err error
		out, err = runTool("mdadm", "--examine", dev)
		return err
	})
	if err != nil {
		return nil, err
	}
	kv := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, " : ")
		if !ok {
			continue
		}
		kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return kv, nil
}

// ReadExt4File returns the content of path in the ext4 filesystem at offset of img,
// read with debugfs (no mount, no loop device).
func ReadExt4File(img string, offset int64, path string) ([]byte, error) {
	dev := img
	if offset != 0 {
		dev = fmt.Sprintf("%s?offset=%d", img, offset)
	}
	cmd := exec.Command("debugfs", "-R", "cat "+path, dev)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("debugfs cat %s in %s: %w: %s", path, dev, err, stderr.String())
	}
	// debugfs prints errors on stderr but still exits 0.
	if s := stderr.String(); strings.Contains(s, "File not found") || strings.Contains(s, "Bad magic") ||
		strings.Contains(s, "not found") || strings.Contains(s, "while opening filesystem") {
		return nil, fmt.Errorf("debugfs cat %s in %s: %s", path, dev, strings.TrimSpace(s))
	}
	return out, nil
}

// ReadVFATFile returns the content of path (e.g. "/EFI/x.txt") in the FAT filesystem at
// offset of img, read with mtools (the host kernel has no vfat).
func ReadVFATFile(img string, offset int64, path string) ([]byte, error) {
	cmd := exec.Command("mtype", "-i", fmt.Sprintf("%s@@%d", img, offset), "::"+path)
	cmd.Env = append(cmd.Environ(), "MTOOLS_SKIP_CHECK=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("mtype %s in %s@@%d: %w: %s", path, img, offset, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// withLoop attaches [offset, offset+size) of img read-only to a loop device for f.
func withLoop(img string, offset, size int64, f func(dev string) error) error {
	args := []string{"-f", "--show", "-r", "-o", strconv.FormatInt(offset, 10)}
	if size > 0 {
		args = append(args, "--sizelimit", strconv.FormatInt(size, 10))
	}
	out, err := runTool("losetup", append(args, img)...)
	if err != nil {
		return err
	}
	dev := strings.TrimSpace(out)
	defer exec.Command("losetup", "-d", dev).Run()
	return f(dev)
}

// runTool runs a host tool and returns stdout; failures carry stderr.
func runTool(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// ReadMountedFile returns the content of path in the filesystem of type
// fstype that fills img (e.g. a decrypted LUKS volume), read through a
// read-only loop mount in a private mount namespace of its own (for xfs
// and btrfs, which debugfs cannot read).
func ReadMountedFile(img, fstype, path string) ([]byte, error) {
	dir, err := os.MkdirTemp("", "flint-ro-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	opts := "ro,loop"
	if fstype == "xfs" {
		opts += ",norecovery"
	}
	script := `mount -t "$1" -o "$2" "$3" "$4" && cat "$4/$5"`
	out, err := runTool("unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", fstype, opts, img, dir, path)
	if err != nil {
		return nil, err
	}
	return []byte(out), nil
}
