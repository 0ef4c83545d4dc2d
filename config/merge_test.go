package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }
func ip(i int) *int       { return &i }

func TestMergeScalarsAndPointers(t *testing.T) {
	p := Config{Ignition: Ignition{Version: "3.7.0-experimental", Timeouts: Timeouts{HTTPTotal: ip(5), HTTPResponseHeaders: ip(3)}}}
	c := Config{Ignition: Ignition{Timeouts: Timeouts{HTTPTotal: ip(9)}}}
	m := Merge(p, c)
	if *m.Ignition.Timeouts.HTTPTotal != 9 || *m.Ignition.Timeouts.HTTPResponseHeaders != 3 {
		t.Fatalf("pointers: %+v", m.Ignition.Timeouts)
	}
	if m.Ignition.Version != "" { // plain value: the child's wins, even when empty
		t.Fatalf("version %q", m.Ignition.Version)
	}
	*c.Ignition.Timeouts.HTTPTotal = 1 // result must not alias its inputs
	if *m.Ignition.Timeouts.HTTPTotal != 9 {
		t.Fatal("merge result aliases the child")
	}
}

func TestMergeKeyedLists(t *testing.T) {
	p := Config{Passwd: Passwd{Users: []PasswdUser{{Name: "a", UID: ip(1), Shell: sp("/bin/sh")}, {Name: "b"}}},
		Systemd: Systemd{Units: []Unit{{Name: "x.service", Enabled: bp(true), Dropins: []Dropin{{Name: "1.conf", Contents: sp("p")}}}}}}
	c := Config{Passwd: Passwd{Users: []PasswdUser{{Name: "c"}, {Name: "a", UID: ip(2)}}},
		Systemd: Systemd{Units: []Unit{{Name: "x.service", Dropins: []Dropin{{Name: "1.conf", Contents: sp("c")}, {Name: "2.conf"}}}}}}
	m := Merge(p, c)
	want := []PasswdUser{{Name: "a", UID: ip(2), Shell: sp("/bin/sh")}, {Name: "b"}, {Name: "c"}}
	if !reflect.DeepEqual(m.Passwd.Users, want) {
		t.Fatalf("users: %+v", m.Passwd.Users)
	}
	u := m.Systemd.Units[0]
	if !isTrue(u.Enabled) || len(u.Dropins) != 2 || *u.Dropins[0].Contents != "c" {
		t.Fatalf("units: %+v", m.Systemd.Units)
	}
}

func TestMergePartitionKeys(t *testing.T) {
	p := Config{Storage: Storage{Disks: []Disk{{Device: "/dev/a", Partitions: []Partition{{Number: 1, SizeMiB: ip(5)}, {Label: sp("x")}}}}}}
	c := Config{Storage: Storage{Disks: []Disk{{Device: "/dev/a", Partitions: []Partition{{Number: 1, StartMiB: ip(2)}, {Label: sp("x"), SizeMiB: ip(7)}, {Label: sp("y")}}}}}}
	ps := Merge(p, c).Storage.Disks[0].Partitions
	if len(ps) != 3 || *ps[0].SizeMiB != 5 || *ps[0].StartMiB != 2 || *ps[1].SizeMiB != 7 || *ps[2].Label != "y" {
		t.Fatalf("partitions: %+v", ps)
	}
}

func TestMergeSharedNodeKeySpace(t *testing.T) {
	p := Config{Storage: Storage{
		Files:       []File{{Node: Node{Path: "/a"}}, {Node: Node{Path: "/keep"}}},
		Directories: []Directory{{Node: Node{Path: "/b"}}},
		Links:       []Link{{Node: Node{Path: "/c"}, LinkEmbedded1: LinkEmbedded1{Target: sp("/t")}}},
	}}
	c := Config{Storage: Storage{
		Directories: []Directory{{Node: Node{Path: "/a"}}},                                            // replaces parent file /a
		Links:       []Link{{Node: Node{Path: "/b"}, LinkEmbedded1: LinkEmbedded1{Target: sp("/u")}}}, // replaces parent dir /b
		Files:       []File{{Node: Node{Path: "/c"}}},                                                 // replaces parent link /c
	}}
	m := Merge(p, c)
	paths := func(n int, get func(int) string) []string {
		var out []string
		for i := 0; i < n; i++ {
			out = append(out, get(i))
		}
		return out
	}
	f := paths(len(m.Storage.Files), func(i int) string { return m.Storage.Files[i].Path })
	d := paths(len(m.Storage.Directories), func(i int) string { return m.Storage.Directories[i].Path })
	l := paths(len(m.Storage.Links), func(i int) string { return m.Storage.Links[i].Path })
	if !reflect.DeepEqual(f, []string{"/keep", "/c"}) || !reflect.DeepEqual(d, []string{"/a"}) || !reflect.DeepEqual(l, []string{"/b"}) {
		t.Fatalf("files %v dirs %v links %v", f, d, l)
	}
	if r := Validate(m); r.IsFatal() {
		t.Fatalf("merged config invalid: %v", r)
	}
}

func TestMergeKernelArgumentsSharedKeys(t *testing.T) {
	p := Config{KernelArguments: KernelArguments{ShouldExist: []KernelArgument{"a", "b"}, ShouldNotExist: []KernelArgument{"c"}}}
	c := Config{KernelArguments: KernelArguments{ShouldNotExist: []KernelArgument{"a"}, ShouldExist: []KernelArgument{"c", "d"}}}
	m := Merge(p, c).KernelArguments
	if !reflect.DeepEqual(m.ShouldExist, []KernelArgument{"b", "c", "d"}) || !reflect.DeepEqual(m.ShouldNotExist, []KernelArgument{"a"}) {
		t.Fatalf("kargs: %+v", m)
	}
}

func TestMergeConcatenatedLists(t *testing.T) {
	p := Config{Storage: Storage{
		Files:       []File{{Node: Node{Path: "/f"}, FileEmbedded1: FileEmbedded1{Append: []Resource{{Source: sp("data:,a")}}}}},
		Filesystems: []Filesystem{{Device: "/dev/a", Options: []FilesystemOption{"-x"}, MountOptions: []MountOption{"ro"}}},
		Raid:        []Raid{{Name: "md", Options: []RaidOption{"--o"}}},
		Luks:        []Luks{{Name: "l", Options: []LuksOption{"--a"}, OpenOptions: []OpenOption{"--p"}}},
	}}
	c := Config{Storage: Storage{
		Files:       []File{{Node: Node{Path: "/f"}, FileEmbedded1: FileEmbedded1{Append: []Resource{{Source: sp("data:,a")}}}}},
		Filesystems: []Filesystem{{Device: "/dev/a", Options: []FilesystemOption{"-x"}, MountOptions: []MountOption{"rw"}}},
		Raid:        []Raid{{Name: "md", Options: []RaidOption{"--o"}}},
		Luks:        []Luks{{Name: "l", Options: []LuksOption{"--a"}, OpenOptions: []OpenOption{"--p", "--q"}}},
	}}
	s := Merge(p, c).Storage
	if len(s.Files[0].Append) != 2 || len(s.Filesystems[0].Options) != 2 || !reflect.DeepEqual(s.Filesystems[0].MountOptions, []MountOption{"ro", "rw"}) ||
		len(s.Raid[0].Options) != 2 || len(s.Luks[0].Options) != 2 {
		t.Fatalf("concatenation: %+v", s)
	}
	if !reflect.DeepEqual(s.Luks[0].OpenOptions, []OpenOption{"--p", "--q"}) { // keyed, not concatenated
		t.Fatalf("openOptions: %v", s.Luks[0].OpenOptions)
	}
}

func TestMergeHeaderNullDeletes(t *testing.T) {
	p := Config{Ignition: Ignition{Config: IgnitionConfig{Merge: []Resource{{Source: sp("http://a"), HTTPHeaders: HTTPHeaders{{Name: "A", Value: sp("1")}, {Name: "B", Value: sp("2")}}}}}}}
	c := Config{Ignition: Ignition{Config: IgnitionConfig{Merge: []Resource{{Source: sp("http://a"), HTTPHeaders: HTTPHeaders{{Name: "A"}, {Name: "B", Value: sp("3")}, {Name: "C", Value: sp("4")}}}}}}}
	h := Merge(p, c).Ignition.Config.Merge[0].HTTPHeaders
	want := HTTPHeaders{{Name: "B", Value: sp("3")}, {Name: "C", Value: sp("4")}}
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("headers: %+v", h)
	}
}

func TestMergeIdentity(t *testing.T) {
	raw := []byte(`{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a","contents":{"source":"data:,x"}}]}}`)
	cfg, _, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if m := Merge(Config{}, cfg); !reflect.DeepEqual(m, cfg) {
		t.Fatalf("merge into empty changed the config: %+v", m)
	}
}

// validCorpus returns the corpus configs that parse, by file name.
func validCorpus(t *testing.T) map[string]Config {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.ign"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]Config{}
	for _, name := range names {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if cfg, _, err := Parse(raw); err == nil {
			out[filepath.Base(name)] = cfg
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d valid corpus configs", len(out))
	}
	return out
}

// TestMergeIntoEmptyIsIdentity: Merge returns the child unchanged when
// the parent is empty; the full merge gives the same for every valid
// config of the corpus, so that shortcut changes nothing.
func TestMergeIntoEmptyIsIdentity(t *testing.T) {
	for name, cfg := range validCorpus(t) {
		if m := merge(Config{}, cfg); !reflect.DeepEqual(m, cfg) {
			t.Errorf("%s: the full merge into an empty config changed it", name)
		}
	}
}

// TestValidConfigValidAfterMerge: a config valid under its own version
// stays valid under the newest rules once merged (apply validates the
// merged config again only after a real merge; validate is the gate, so
// skipping it must never accept what it would refuse).
func TestValidConfigValidAfterMerge(t *testing.T) {
	for name, cfg := range validCorpus(t) {
		if r := Validate(merge(Config{}, cfg)); r.IsFatal() {
			t.Errorf("%s: valid, but refused after a merge: %v", name, r)
		}
	}
}
