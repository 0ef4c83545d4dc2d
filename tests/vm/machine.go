package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Disk is one virtio-blk disk backed by a raw sparse file.
type Disk struct {
	Serial string // virtio serial (≤ 20 bytes): the guest sees /dev/disk/by-id/virtio-<Serial>
	Size   int64  // bytes; used to create Path when it does not exist
	Path   string // raw image; created sparse by Run when missing, reused otherwise
}

// Machine is one QEMU (TCG) boot of a test initramfs.
type Machine struct {
	Initramfs string // from BuildInitramfs
	// Script is the guest test script, run with `sh -e` in /tmp after the modules are
	// loaded and /dev/disk/by-* links made. It is passed as fw_cfg opt/flint/test.sh
	// (the busybox /init fails without it). Other guests (dracut, a switch-root into
	// BuildRootImage) report the verdict themselves and need no Script.
	Script string
	Disks  []Disk // in order: vda, vdb, ...
	// FwCfg maps fw_cfg names to host files, e.g. "opt/com.coreos/config" for a flint
	// config. The guest reads them from /sys/firmware/qemu_fw_cfg/by_name/NAME/raw.
	FwCfg       map[string]string
	Cmdline     string        // appended to "console=ttyS0 panic=-1 quiet loglevel=4"
	Net         bool          // QEMU user networking (guest eth0 10.0.2.15, host 10.0.2.2); else -nic none
	TPMStateDir string        // when set, a swtpm (TPM 2.0) with this state dir is attached
	Timeout     time.Duration // whole run, default 3 minutes
	SerialLog   string        // when set, the serial console is also written there
	Console     io.Writer     // when set, the serial console is streamed there live
	MemoryMiB   int           // default 1024
}

// Result is what one boot produced.
type Result struct {
	Serial   string        // the whole serial console (CR stripped)
	Passed   bool          // the guest script exited 0
	GuestRC  int           // the guest script's exit code (-1 when no result was printed)
	Duration time.Duration // QEMU wall time
	// Marks holds guest uptimes (seconds) of the harness markers: "init" (/init
	// started), "modules" (modules loaded), "test-start" and "result".
	Marks map[string]float64
}

// ErrGuestFailed: the guest script ran and exited non-zero.
var ErrGuestFailed = errors.New("guest test script failed")

// ErrTimeout: the machine did not finish within its timeout.
var ErrTimeout = errors.New("VM timed out")

const (
	defaultTimeout = 3 * time.Minute
	exitPassed     = 3 // isa-debug-exit: (1<<1)|1
	exitFailed     = 5 // isa-debug-exit: (2<<1)|1
	serialTail     = 40
)

var (
	resultRe = regexp.MustCompile(`FLINT-TEST-RESULT rc=(\d+)(?: uptime=([0-9.]+))?`)
	markRe   = regexp.MustCompile(`FLINT-MARK (\S+) uptime=([0-9.]+)`)
)

// Run boots the machine and waits for the guest script's verdict. The returned Result
// is non-nil whenever QEMU was started. err is nil only when the script passed; it
// wraps ErrGuestFailed when the script failed and ErrTimeout when the guest hung, and
// always carries the tail of the serial console.
func (m *Machine) Run(ctx context.Context) (*Result, error) {
	vmlinuz, _, _, err := Kernel()
	if err != nil {
		return nil, err
	}
	if m.Initramfs == "" {
		return nil, errors.New("vm: Machine.Initramfs is empty (use BuildInitramfs)")
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, fmt.Errorf("vm: qemu-system-x86_64 not installed (run make deps): %w", err)
	}
	tmp, err := os.MkdirTemp("", "flint-vm-")
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	defer os.RemoveAll(tmp)

	fw := map[string]string{}
	for k, v := range m.FwCfg {
		fw[k] = v
	}
	if m.Script != "" {
		p := filepath.Join(tmp, "test.sh")
		if err := os.WriteFile(p, []byte(m.Script), 0o644); err != nil {
			return nil, fmt.Errorf("vm: %w", err)
		}
		fw["opt/flint/test.sh"] = p
	}

	mem := m.MemoryMiB
	if mem == 0 {
		mem = 1024
	}
	cmdline := "console=ttyS0 panic=-1 quiet loglevel=4"
	if m.Cmdline != "" {
		cmdline += " " + m.Cmdline
	}
	args := []string{
		"-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "2", "-m", strconv.Itoa(mem),
		"-nographic", "-no-reboot", "-serial", "mon:stdio",
		"-kernel", vmlinuz, "-initrd", m.Initramfs, "-append", cmdline,
	}
	for i, d := range m.Disks {
		if d.Path == "" || d.Serial == "" {
			return nil, fmt.Errorf("vm: disk %d needs Path and Serial", i)
		}
		if len(d.Serial) > 20 || strings.ContainsAny(d.Serial, ", /") {
			return nil, fmt.Errorf("vm: disk serial %q: at most 20 bytes, no comma, space or slash", d.Serial)
		}
		if _, err := os.Stat(d.Path); errors.Is(err, os.ErrNotExist) {
			if d.Size <= 0 {
				return nil, fmt.Errorf("vm: disk %s does not exist and has no Size", d.Path)
			}
			f, err := os.Create(d.Path)
			if err == nil {
				err = f.Truncate(d.Size)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return nil, fmt.Errorf("vm: create disk %s: %w", d.Path, err)
			}
		} else if err != nil {
			return nil, fmt.Errorf("vm: disk: %w", err)
		}
		id := fmt.Sprintf("d%d", i)
		args = append(args,
			"-drive", fmt.Sprintf("file=%s,format=raw,if=none,id=%s,cache=unsafe", qemuEscape(d.Path), id),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=%s,serial=%s", id, d.Serial))
	}
	args = append(args, "-device", "virtio-rng-pci",
		"-device", "isa-debug-exit,iobase=0xf4,iosize=0x04")
	if m.Net {
		args = append(args, "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=") // no iPXE option ROM
	} else {
		args = append(args, "-nic", "none")
	}
	names := make([]string, 0, len(fw))
	for k := range fw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if len(k) > 55 || strings.Contains(k, ",") {
			return nil, fmt.Errorf("vm: fw_cfg name %q: at most 55 bytes, no comma", k)
		}
		if _, err := os.Stat(fw[k]); err != nil {
			return nil, fmt.Errorf("vm: fw_cfg %s: %w", k, err)
		}
		args = append(args, "-fw_cfg", fmt.Sprintf("name=%s,file=%s", k, qemuEscape(fw[k])))
	}

	timeout := m.Timeout
	if timeout == 0 {
		timeout = defaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if m.TPMStateDir != "" {
		sock, stop, err := startSwtpm(ctx, m.TPMStateDir, tmp)
		if err != nil {
			return nil, err
		}
		defer stop()
		args = append(args, "-chardev", "socket,id=chrtpm,path="+sock,
			"-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0")
	}

	var serial bytes.Buffer
	var sinks []io.Writer
	sinks = append(sinks, &serial)
	if m.SerialLog != "" {
		f, err := os.Create(m.SerialLog)
		if err != nil {
			return nil, fmt.Errorf("vm: serial log: %w", err)
		}
		defer f.Close()
		sinks = append(sinks, f)
	}
	if m.Console != nil {
		sinks = append(sinks, m.Console)
	}
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.Stdin = nil
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.WaitDelay = 2 * time.Second
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		out := io.MultiWriter(sinks...)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(out, strings.TrimRight(sc.Text(), "\r"))
		}
		io.Copy(io.Discard, pr)
	}()

	start := time.Now()
	runErr := cmd.Run()
	dur := time.Since(start)
	pw.Close()
	wg.Wait()

	res := &Result{Serial: serial.String(), GuestRC: -1, Duration: dur, Marks: map[string]float64{}}
	for _, mm := range markRe.FindAllStringSubmatch(res.Serial, -1) {
		res.Marks[mm[1]], _ = strconv.ParseFloat(mm[2], 64)
	}
	if all := resultRe.FindAllStringSubmatch(res.Serial, -1); len(all) > 0 {
		mm := all[len(all)-1] // the harness prints it last
		res.GuestRC, _ = strconv.Atoi(mm[1])
		if mm[2] != "" {
			res.Marks["result"], _ = strconv.ParseFloat(mm[2], 64)
		}
	}
	tail := Tail(res.Serial, serialTail)

	if ctx.Err() == context.DeadlineExceeded {
		return res, fmt.Errorf("%w after %s (%s); serial tail:\n%s", ErrTimeout, timeout, dur.Round(time.Millisecond), tail)
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("vm: %w; serial tail:\n%s", ctx.Err(), tail)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(runErr, &ee) {
		code = ee.ExitCode()
	} else if runErr != nil {
		return res, fmt.Errorf("vm: run qemu: %w; serial tail:\n%s", runErr, tail)
	}
	switch {
	case code == exitPassed && res.GuestRC == 0:
		res.Passed = true
		return res, nil
	case code == exitFailed && res.GuestRC > 0:
		return res, fmt.Errorf("%w: rc=%d (%s); serial tail:\n%s", ErrGuestFailed, res.GuestRC, dur.Round(time.Millisecond), tail)
	default:
		return res, fmt.Errorf("vm: guest ended without a verdict (qemu exit %d, guest rc %d); serial tail:\n%s", code, res.GuestRC, tail)
	}
}

// qemuEscape doubles commas, QEMU's option-value escape.
func qemuEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startSwtpm starts a TPM 2.0 emulator for one QEMU run; its state persists in dir.
func startSwtpm(ctx context.Context, dir, tmp string) (sock string, stop func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("vm: swtpm state: %w", err)
	}
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		return "", nil, fmt.Errorf("vm: swtpm not installed (run make deps): %w", err)
	}
	sock = filepath.Join(tmp, "swtpm.sock") // short path: sun_path is 108 bytes
	cmd := exec.Command(bin, "socket", "--tpm2", "--tpmstate", "dir="+qemuEscape(dir),
		"--ctrl", "type=unixio,path="+sock, "--terminate",
		"--log", "file="+qemuEscape(filepath.Join(dir, "swtpm.log"))+",level=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("vm: start swtpm: %w", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	stop = func() {
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return sock, stop, nil
		}
		select {
		case <-done:
			return "", nil, fmt.Errorf("vm: swtpm exited early: %s", stderr.String())
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			return "", nil, fmt.Errorf("vm: swtpm socket %s did not appear", sock)
		}
	}
}
