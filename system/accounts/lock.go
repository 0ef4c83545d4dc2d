package accounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The shadow suite's locks, as the tools take them inside a chroot:
//
//  1. lckpwdf(3): /etc/.pwd.lock (created 0600) with a POSIX write lock
//     on the whole file, waited for up to 15 seconds;
//  2. per database file F, commonio's link lock: write our pid to
//     "F.<pid>", link(2) it to "F.lock", and check that the pid file now has
//     two links. If F.lock exists, read the pid in it: a live process holds
//     the lock (fail); a dead one, an empty file or garbage is stale: for a
//     dead pid the lock is removed and the link tried once more, a lock
//     without a valid pid is refused, as commonio does.
//
// The pid recorded is flint's own; "alive" is decided with kill(pid, 0) in
// flint's pid namespace, as the tools do.

const lockWait = 15 * time.Second

type locks struct {
	pwdFd int
	held  []string // F.lock paths we created
}

func lockAll(ctx context.Context, etc string, files []string) (*locks, error) {
	l := &locks{pwdFd: -1}
	fd, err := unix.Open(filepath.Join(etc, ".pwd.lock"), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", filepath.Join(etc, ".pwd.lock"), err)
	}
	l.pwdFd = fd
	deadline := time.Now().Add(lockWait)
	for {
		fl := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0}
		err = unix.FcntlFlock(uintptr(fd), unix.F_SETLK, &fl)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			l.release()
			return nil, fmt.Errorf("locking %s: %w", filepath.Join(etc, ".pwd.lock"), err)
		}
		if time.Now().After(deadline) {
			l.release()
			return nil, fmt.Errorf("locking %s: held by another process for %s", filepath.Join(etc, ".pwd.lock"), lockWait)
		}
		select {
		case <-ctx.Done():
			l.release()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	for _, f := range files {
		if err := l.lockFile(filepath.Join(etc, f)); err != nil {
			l.release()
			return nil, err
		}
	}
	return l, nil
}

func (l *locks) lockFile(file string) error {
	pid := os.Getpid()
	tmp := file + "." + strconv.Itoa(pid)
	lock := file + ".lock"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\x00"), 0o600); err != nil {
		return fmt.Errorf("locking %s: %w", file, err)
	}
	defer os.Remove(tmp)
	try := func() (bool, error) {
		if err := os.Link(tmp, lock); err != nil {
			if errors.Is(err, os.ErrExist) {
				return false, nil
			}
			return false, err
		}
		var st unix.Stat_t
		if err := unix.Stat(tmp, &st); err != nil || st.Nlink != 2 {
			return false, fmt.Errorf("lock file %s already used", lock)
		}
		l.held = append(l.held, lock)
		return true, nil
	}
	ok, err := try()
	if err != nil {
		return fmt.Errorf("locking %s: %w", file, err)
	}
	if ok {
		return nil
	}
	b, err := os.ReadFile(lock)
	if err != nil {
		return fmt.Errorf("locking %s: %w", file, err)
	}
	s := strings.TrimRight(string(b), "\x00\n")
	other, perr := strconv.Atoi(s)
	if len(b) == 0 || perr != nil || other <= 0 {
		return fmt.Errorf("locking %s: existing lock file %s without a valid pid", file, lock)
	}
	if err := unix.Kill(other, 0); err == nil || errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("locking %s: lock %s already used by pid %d", file, lock, other)
	}
	// stale: the holder is gone
	if err := os.Remove(lock); err != nil {
		return fmt.Errorf("locking %s: removing stale lock %s: %w", file, lock, err)
	}
	if ok, err = try(); err != nil || !ok {
		if err == nil {
			err = errors.New("lock taken meanwhile")
		}
		return fmt.Errorf("locking %s: %w", file, err)
	}
	return nil
}

func (l *locks) release() {
	for i := len(l.held) - 1; i >= 0; i-- {
		os.Remove(l.held[i])
	}
	l.held = nil
	if l.pwdFd >= 0 {
		unix.Close(l.pwdFd)
		l.pwdFd = -1
	}
}
