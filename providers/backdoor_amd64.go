package providers

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// The VMware backdoor: port I/O on 0x5658 with a magic in EAX, which the
// hypervisor intercepts. GuestRPC ("RPCI") messages travel over it four
// bytes at a time (the low-bandwidth protocol). Port I/O needs iopl(3),
// which is per thread, so every exchange runs on one locked OS thread.

func bdoorInOut(ax, bx, cx, dx, si, di uint32) (oax, obx, ocx, odx, osi, odi uint32)

const (
	bdoorMagic   = 0x564D5868
	bdoorPort    = 0x5658
	bdoorGetVer  = 10
	bdoorMessage = 30
	rpciProtocol = 0x49435052
	flagCookie   = 0x80000000

	msgOpen, msgSendSize, msgSendPayload, msgRecvSize, msgRecvPayload, msgRecvStatus, msgClose = 0, 1, 2, 3, 4, 5, 6

	statusSuccess = 0x0001
	statusDoRecv  = 0x0002
)

type backdoorRPC struct{}

// withIO runs fn on a locked thread that has I/O privilege level 3.
func withIO(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The goroutine's thread keeps iopl(3); LockOSThread without Unlock
		// makes the runtime retire the thread when the goroutine ends.
		runtime.LockOSThread()
		if err := unix.Iopl(3); err != nil {
			errc <- fmt.Errorf("vmware backdoor: iopl(3): %w", err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// vmwareBackdoorPresent asks the backdoor for its version.
func vmwareBackdoorPresent() bool {
	ok := false
	_ = withIO(func() error {
		_, bx, _, _, _, _ := bdoorInOut(bdoorMagic, ^uint32(bdoorMagic), bdoorGetVer, bdoorPort, 0, 0)
		ok = bx == bdoorMagic
		return nil
	})
	return ok
}

// rpci sends one GuestRPC request and returns the reply.
func rpci(req string) (string, error) {
	var reply string
	err := withIO(func() error {
		call := func(typ, bx, ch, si, di uint32) (uint32, uint32, uint32, uint32, uint32) {
			_, obx, ocx, odx, osi, odi := bdoorInOut(bdoorMagic, bx, bdoorMessage|typ<<16, ch<<16|bdoorPort, si, di)
			return obx, ocx >> 16, odx >> 16, osi, odi
		}
		_, st, ch, c1, c2 := call(msgOpen, rpciProtocol|flagCookie, 0, 0, 0)
		if st&statusSuccess == 0 {
			return errors.New("vmware backdoor: opening the RPCI channel failed")
		}
		defer call(msgClose, 0, ch, c1, c2)
		if _, st, _, _, _ = call(msgSendSize, uint32(len(req)), ch, c1, c2); st&statusSuccess == 0 {
			return errors.New("vmware backdoor: sending request size failed")
		}
		b := []byte(req)
		for i := 0; i < len(b); i += 4 {
			var w [4]byte
			copy(w[:], b[i:])
			if _, st, _, _, _ = call(msgSendPayload, binary.LittleEndian.Uint32(w[:]), ch, c1, c2); st&statusSuccess == 0 {
				return errors.New("vmware backdoor: sending request failed")
			}
		}
		size, st, _, _, _ := call(msgRecvSize, 0, ch, c1, c2)
		if st&statusSuccess == 0 {
			return errors.New("vmware backdoor: receiving reply size failed")
		}
		if st&statusDoRecv == 0 {
			return nil
		}
		if size > MaxConfigSize*2 {
			return fmt.Errorf("vmware backdoor: reply of %d bytes is too large", size)
		}
		out := make([]byte, 0, size+4)
		for uint32(len(out)) < size {
			w, st, _, _, _ := call(msgRecvPayload, statusSuccess, ch, c1, c2)
			if st&statusSuccess == 0 {
				return errors.New("vmware backdoor: receiving reply failed")
			}
			out = binary.LittleEndian.AppendUint32(out, w)
		}
		call(msgRecvStatus, statusSuccess, ch, c1, c2)
		reply = string(out[:size])
		return nil
	})
	return reply, err
}

func (backdoorRPC) Get(ctx context.Context, key string) (string, bool, error) {
	r, err := rpci("info-get guestinfo." + key)
	if err != nil {
		return "", false, err
	}
	if v, ok := strings.CutPrefix(r, "1 "); ok {
		return v, true, nil
	}
	if r == "1" {
		return "", true, nil
	}
	return "", false, nil
}

func (backdoorRPC) Set(ctx context.Context, key, value string) error {
	r, err := rpci("info-set guestinfo." + key + " " + value)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(r, "1") {
		return fmt.Errorf("vmware backdoor: info-set guestinfo.%s refused: %q", key, r)
	}
	return nil
}

// SetPrivate is Set: the value never leaves the process.
func (b backdoorRPC) SetPrivate(ctx context.Context, key, value string) error {
	return b.Set(ctx, key, value)
}
