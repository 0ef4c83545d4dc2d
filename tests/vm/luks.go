package vm

import (
	"bufio"
	"crypto/aes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/crypto/xts"
)

// LUKSTestKey checks that keyfile opens a keyslot of the LUKS volume at
// [offset, offset+size) of img (size 0 = to the end), with `cryptsetup open
// --test-passphrase` on a read-only loop device. The host needs no dm-crypt.
// It returns nil when the key works.
func LUKSTestKey(img string, offset, size int64, keyfile string) error {
	return withLoop(img, offset, size, func(dev string) error {
		_, err := runTool("cryptsetup", "open", "--test-passphrase", "--key-file", keyfile, dev)
		return err
	})
}

// LUKSMetadata returns the LUKS2 JSON metadata (`cryptsetup luksDump
// --dump-json-metadata`) of the volume at [offset, offset+size) of img: keyslots,
// tokens (clevis bindings: "tokens" → {"0": {"type": "clevis", ...}}), segments, config.
func LUKSMetadata(img string, offset, size int64) (map[string]any, error) {
	var out string
	err := withLoop(img, offset, size, func(dev string) error {
		var err error
		out, err = runTool("cryptsetup", "luksDump", "--dump-json-metadata", dev)
		return err
	})
	if err != nil {
		return nil, err
	}
	var md map[string]any
	if err := json.Unmarshal([]byte(out), &md); err != nil {
		return nil, fmt.Errorf("luksDump json of %s@%d: %w", img, offset, err)
	}
	return md, nil
}

// LUKSDecrypt decrypts the data segment of the LUKS2 volume at [offset, offset+size) of
// img with keyfile and writes the plaintext to out (a new file), so that a test can
// probe, fsck or mount the filesystem inside on the host (which has no dm-crypt).
// The volume key is taken with `cryptsetup luksDump --dump-volume-key`; only
// aes-xts-plain64 is supported (cryptsetup's default).
func LUKSDecrypt(img string, offset, size int64, keyfile, out string) error {
	tmp, err := os.MkdirTemp("", "flint-luks-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	vkFile := filepath.Join(tmp, "vk")
	var meta string
	err = withLoop(img, offset, size, func(dev string) error {
		var err error
		if meta, err = runTool("cryptsetup", "luksDump", "--dump-json-metadata", dev); err != nil {
			return err
		}
		_, err = runTool("cryptsetup", "luksDump", "--batch-mode", "--dump-volume-key",
			"--volume-key-file", vkFile, "--key-file", keyfile, dev)
		return err
	})
	if err != nil {
		return err
	}
	var md struct {
		Segments map[string]struct {
			Type       string `json:"type"`
			Offset     string `json:"offset"`
			Size       string `json:"size"`
			IVTweak    string `json:"iv_tweak"`
			Encryption string `json:"encryption"`
			SectorSize int64  `json:"sector_size"`
		} `json:"segments"`
	}
	if err := json.Unmarshal([]byte(meta), &md); err != nil {
		return fmt.Errorf("luks metadata: %w", err)
	}
	seg, ok := md.Segments["0"]
	if !ok || seg.Type != "crypt" {
		return errors.New("luks: no crypt segment 0")
	}
	if seg.Encryption != "aes-xts-plain64" {
		return fmt.Errorf("luks: encryption %q not supported (aes-xts-plain64 only)", seg.Encryption)
	}
	segOff, err := strconv.ParseInt(seg.Offset, 10, 64)
	if err != nil {
		return fmt.Errorf("luks: segment offset %q: %w", seg.Offset, err)
	}
	tweak, _ := strconv.ParseUint(seg.IVTweak, 10, 64)
	key, err := os.ReadFile(vkFile)
	if err != nil {
		return err
	}
	n := int64(-1)
	if seg.Size != "dynamic" {
		if n, err = strconv.ParseInt(seg.Size, 10, 64); err != nil {
			return fmt.Errorf("luks: segment size %q: %w", seg.Size, err)
		}
	}
	in, err := os.Open(img)
	if err != nil {
		return err
	}
	defer in.Close()
	if n < 0 {
		end := size
		if end <= 0 {
			st, err := in.Stat()
			if err != nil {
				return err
			}
			end = st.Size() - offset
		}
		n = end - segOff
	}
	o, err := os.Create(out)
	if err != nil {
		return err
	}
	err = decryptXTS(io.NewSectionReader(in, offset+segOff, n), o, key, seg.SectorSize, tweak)
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("luks decrypt %s@%d to %s: %w", img, offset, out, err)
	}
	return nil
}

// decryptXTS decrypts r to w with AES-XTS and plain64 IVs: the IV of a sector is its
// little-endian number counted in sectorSize units (LUKS2 uses iv_large_sectors) from
// the start of the segment, plus tweak (in 512-byte units converted the same way).
func decryptXTS(r io.Reader, w io.Writer, key []byte, sectorSize int64, tweak uint64) error {
	if sectorSize == 0 {
		sectorSize = 512
	}
	c, err := xts.NewCipher(aes.NewCipher, key)
	if err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	bw := bufio.NewWriterSize(w, 1<<20)
	buf := make([]byte, sectorSize)
	plain := make([]byte, sectorSize)
	ivBase := tweak / uint64(sectorSize/512)
	for sector := uint64(0); ; sector++ {
		if _, err := io.ReadFull(br, buf); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("sector %d: %w", sector, err)
		}
		c.Decrypt(plain, buf, ivBase+sector)
		if _, err := bw.Write(plain); err != nil {
			return err
		}
	}
	return bw.Flush()
}
