package system

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// User is what the shadow-utils wrappers need to create or change an
// account. Nil pointers mean "not specified".
type User struct {
	Name         string
	UID          *int
	Gecos        *string
	HomeDir      *string
	PrimaryGroup *string
	Shell        *string
	Groups       []string
	NoCreateHome bool
	NoUserGroup  bool
	NoLogInit    bool
	System       bool
	// PasswordHash is a crypt(3) hash. It is a secret: it never appears in
	// argv or logs. nil leaves the password alone on modify and locks the
	// account ("*") on add; "" locks the account ("*").
	PasswordHash *string
}

// Group is what the shadow-utils wrappers need for a group.
type Group struct {
	Name string
	GID  *int
	// PasswordHash is a crypt(3) hash written to gshadow through
	// `chgpasswd -e` on stdin; nil or "" leaves it alone.
	PasswordHash *string
	System       bool
}

// lockedPassword is what useradd/usermod get when no hash is given.
const lockedPassword = "*"

// How password hashes reach the target root
//
// useradd/usermod/groupadd/groupmod take the hash only as an argument
// (--password), where any process can read it in /proc/<pid>/cmdline. flint
// never does that: the account is created with the non-secret "*" (locked),
// then the hash is set with shadow-utils' `chpasswd --encrypted --root ROOT`
// (groups: `chgpasswd --encrypted --root ROOT`) reading "name:hash\n" from
// stdin. The hash is also listed in Cmd.Secret so a tool echoing it on
// stderr is redacted from logs and errors.

func checkName(kind, name string) error {
	if name == "" {
		return fmt.Errorf("%s name is empty", kind)
	}
	if strings.HasPrefix(name, "-") || strings.ContainsAny(name, ":,\n\r\x00") {
		return fmt.Errorf("invalid %s name %q", kind, name)
	}
	return nil
}

func checkUser(u User) error {
	if err := checkName("user", u.Name); err != nil {
		return err
	}
	for _, g := range u.Groups {
		if err := checkName("group", g); err != nil {
			return fmt.Errorf("user %q: supplementary %w", u.Name, err)
		}
	}
	return nil
}

func checkHash(h string) error {
	if strings.ContainsAny(h, ":\n\r\x00") {
		return fmt.Errorf("password hash contains ':' or a line break")
	}
	return nil
}

func userAddArgs(root string, u User) []string {
	a := []string{"--root", root}
	if u.HomeDir != nil && *u.HomeDir != "" {
		a = append(a, "--home-dir", *u.HomeDir)
	}
	if u.NoCreateHome {
		a = append(a, "--no-create-home")
	} else {
		a = append(a, "--create-home")
	}
	if u.NoUserGroup {
		a = append(a, "--no-user-group")
	}
	if u.System {
		a = append(a, "--system")
	}
	if u.NoLogInit {
		a = append(a, "--no-log-init")
	}
	a = append(a, "--password", lockedPassword)
	if u.UID != nil {
		a = append(a, "--uid", strconv.Itoa(*u.UID))
	}
	if u.Gecos != nil && *u.Gecos != "" {
		a = append(a, "--comment", *u.Gecos)
	}
	if u.PrimaryGroup != nil && *u.PrimaryGroup != "" {
		a = append(a, "--gid", *u.PrimaryGroup)
	}
	if len(u.Groups) > 0 {
		a = append(a, "--groups", strings.Join(u.Groups, ","))
	}
	if u.Shell != nil && *u.Shell != "" {
		a = append(a, "--shell", *u.Shell)
	}
	return append(a, u.Name)
}

// userModArgs returns nil when there is nothing for usermod to change.
func userModArgs(root string, u User) []string {
	a := []string{"--root", root}
	n := len(a)
	if u.HomeDir != nil && *u.HomeDir != "" {
		a = append(a, "--home", *u.HomeDir, "--move-home")
	}
	if u.PasswordHash != nil && *u.PasswordHash == "" {
		a = append(a, "--password", lockedPassword)
	}
	if u.UID != nil {
		a = append(a, "--uid", strconv.Itoa(*u.UID))
	}
	if u.Gecos != nil && *u.Gecos != "" {
		a = append(a, "--comment", *u.Gecos)
	}
	if u.PrimaryGroup != nil && *u.PrimaryGroup != "" {
		a = append(a, "--gid", *u.PrimaryGroup)
	}
	if len(u.Groups) > 0 {
		a = append(a, "--groups", strings.Join(u.Groups, ","))
	}
	if u.Shell != nil && *u.Shell != "" {
		a = append(a, "--shell", *u.Shell)
	}
	if len(a) == n {
		return nil
	}
	return append(a, u.Name)
}

func setUserHash(ctx context.Context, r Runner, root, name string, hash *string) error {
	if hash == nil || *hash == "" {
		return nil
	}
	if err := checkHash(*hash); err != nil {
		return fmt.Errorf("setting password of user %q: %w", name, err)
	}
	_, err := r.Run(ctx, Cmd{
		Name:   ToolChpasswd,
		Args:   []string{"--encrypted", "--root", root},
		Stdin:  strings.NewReader(name + ":" + *hash + "\n"),
		Secret: []string{*hash},
	})
	if err != nil {
		return fmt.Errorf("setting password of user %q in %s: %w", name, root, err)
	}
	return nil
}

func secretsOf(h *string) []string {
	if h == nil || *h == "" {
		return nil
	}
	return []string{*h}
}

// AddUser runs `useradd --root ROOT … NAME` (flags as Ignition builds them,
// with --password "*"), then sets a non-empty PasswordHash through chpasswd
// on stdin.
func AddUser(ctx context.Context, r Runner, root string, u User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	if _, err := r.Run(ctx, Cmd{Name: ToolUseradd, Args: userAddArgs(root, u), Secret: secretsOf(u.PasswordHash)}); err != nil {
		return fmt.Errorf("creating user %q in %s: %w", u.Name, root, err)
	}
	return setUserHash(ctx, r, root, u.Name, u.PasswordHash)
}

// ModifyUser runs `usermod --root ROOT [--home H --move-home] [--password *]
// [--uid N] [--comment C] [--gid G] [--groups a,b] [--shell S] NAME` when
// anything is set (NoCreateHome, NoUserGroup, NoLogInit and System apply to
// creation only), then sets a non-empty PasswordHash through chpasswd.
func ModifyUser(ctx context.Context, r Runner, root string, u User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	if args := userModArgs(root, u); args != nil {
		if _, err := r.Run(ctx, Cmd{Name: ToolUsermod, Args: args, Secret: secretsOf(u.PasswordHash)}); err != nil {
			return fmt.Errorf("modifying user %q in %s: %w", u.Name, root, err)
		}
	}
	return setUserHash(ctx, r, root, u.Name, u.PasswordHash)
}

// DeleteUser runs `userdel --remove --root ROOT NAME`.
func DeleteUser(ctx context.Context, r Runner, root, name string) error {
	if err := checkName("user", name); err != nil {
		return err
	}
	if _, err := r.Run(ctx, Cmd{Name: ToolUserdel, Args: []string{"--remove", "--root", root, name}}); err != nil {
		return fmt.Errorf("deleting user %q in %s: %w", name, root, err)
	}
	return nil
}

func setGroupHash(ctx context.Context, r Runner, root, name string, hash *string) error {
	if hash == nil || *hash == "" {
		return nil
	}
	if err := checkHash(*hash); err != nil {
		return fmt.Errorf("setting password of group %q: %w", name, err)
	}
	_, err := r.Run(ctx, Cmd{
		Name:   ToolChgpasswd,
		Args:   []string{"--encrypted", "--root", root},
		Stdin:  strings.NewReader(name + ":" + *hash + "\n"),
		Secret: []string{*hash},
	})
	if err != nil {
		return fmt.Errorf("setting password of group %q in %s: %w", name, root, err)
	}
	return nil
}

// AddGroup runs `groupadd --root ROOT [--gid N] [--system] NAME`, then sets
// a non-empty PasswordHash through chgpasswd on stdin.
func AddGroup(ctx context.Context, r Runner, root string, g Group) error {
	if err := checkName("group", g.Name); err != nil {
		return err
	}
	args := []string{"--root", root}
	if g.GID != nil {
		args = append(args, "--gid", strconv.Itoa(*g.GID))
	}
	if g.System {
		args = append(args, "--system")
	}
	args = append(args, g.Name)
	if _, err := r.Run(ctx, Cmd{Name: ToolGroupadd, Args: args, Secret: secretsOf(g.PasswordHash)}); err != nil {
		return fmt.Errorf("creating group %q in %s: %w", g.Name, root, err)
	}
	return setGroupHash(ctx, r, root, g.Name, g.PasswordHash)
}

// ModifyGroup runs `groupmod --root ROOT --gid N NAME` when GID is set, then
// sets a non-empty PasswordHash through chgpasswd on stdin.
func ModifyGroup(ctx context.Context, r Runner, root string, g Group) error {
	if err := checkName("group", g.Name); err != nil {
		return err
	}
	if g.GID != nil {
		args := []string{"--root", root, "--gid", strconv.Itoa(*g.GID), g.Name}
		if _, err := r.Run(ctx, Cmd{Name: ToolGroupmod, Args: args, Secret: secretsOf(g.PasswordHash)}); err != nil {
			return fmt.Errorf("modifying group %q in %s: %w", g.Name, root, err)
		}
	}
	return setGroupHash(ctx, r, root, g.Name, g.PasswordHash)
}

// DeleteGroup runs `groupdel --root ROOT NAME`.
func DeleteGroup(ctx context.Context, r Runner, root, name string) error {
	if err := checkName("group", name); err != nil {
		return err
	}
	if _, err := r.Run(ctx, Cmd{Name: ToolGroupdel, Args: []string{"--root", root, name}}); err != nil {
		return fmt.Errorf("deleting group %q in %s: %w", name, root, err)
	}
	return nil
}
