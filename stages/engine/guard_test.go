package engine

import (
	"strings"
	"testing"
)

func TestRootDevice(t *testing.T) {
	for in, want := range map[string]string{
		"root=LABEL=flintroot":               "/dev/disk/by-label/flintroot",
		"root=UUID=ABCD-1234":                "/dev/disk/by-uuid/abcd-1234",
		"root=PARTLABEL=root":                "/dev/disk/by-partlabel/root",
		"root=PARTUUID=0FC63DAF":             "/dev/disk/by-partuuid/0fc63daf",
		"root=/dev/vda2":                     "/dev/vda2",
		"root=/dev/vda1 root=/dev/vda3":      "/dev/vda3",
		"root=nfs:10.0.0.1:/x":               "",
		"root=LABEL=a/../../x":               "",
		"console=ttyS0":                      "",
		"flint.firstboot root=LABEL=r quiet": "/dev/disk/by-label/r",
	} {
		if got := rootDevice(strings.Fields(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
