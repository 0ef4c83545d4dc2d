# Generates flint's real-world corpus: public configs (anonymised and
# shortened) and mutations, with the verdict the reference gives.
import json, os, copy
OUT = os.path.dirname(os.path.abspath(__file__))
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleExampleExampleExampleExample user@example"
RSA = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQExample user@example"
HASH = "$6$examplesalt$examplehashexamplehashexamplehash"
GZ = "data:;base64,H4sIAAAAAAAC/wMAAAAAAAAAAAA="
H512 = "sha512-" + "0123456789abcdef" * 8
H256 = "sha256-" + "0123456789abcdef" * 4
files, expect = {}, []

def add(name, cfg, verdict, *paths, raw=None):
    text = raw if raw is not None else json.dumps(cfg, indent=2) + "\n"
    files[name] = text
    expect.append((name, verdict, sorted(set(paths))))

def V(v): return {"ignition": {"version": v}}

# ---- real configs -------------------------------------------------------
# 63rabbits/fcos config.ign (3.2.0)
fcos_users = {**V("3.2.0"), "passwd": {"users": [{"groups": ["sudo", "docker"], "name": "core", "passwordHash": HASH, "sshAuthorizedKeys": [RSA]}]}}
add("real-fcos-users-3.2.ign", fcos_users, "valid")
# alicefr/config-fcos-trustee config.ign (3.5.0), shortened
trustee = {**V("3.5.0"),
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": [RSA]}]},
  "storage": {"directories": [{"overwrite": True, "path": "/var/kbs/config"}, {"overwrite": True, "path": "/var/rvps"}, {"overwrite": True, "path": "/var/as"}],
    "files": [
      {"path": "/etc/profile.d/systemd-pager.sh", "contents": {"compression": "", "source": "data:,%23%20Tell%20systemd%20to%20not%20use%20a%20pager%0Aexport%20SYSTEMD_PAGER%3Dcat%0A"}, "mode": 420},
      {"path": "/etc/containers/systemd/key-generation.container", "contents": {"compression": "gzip", "source": GZ}, "mode": 420},
      {"path": "/var/kbs/config/kbs-config.toml", "contents": {"compression": "gzip", "source": GZ}, "mode": 420},
      {"path": "/var/rvps/rvps.json", "contents": {"compression": "", "source": "data:;base64,e30K"}, "mode": 420},
      {"path": "/etc/containers/systemd/trustee.network", "contents": {"compression": "", "source": "data:,%5BNetwork%5D%0ADriver%3Dbridge%0A"}, "mode": 420}]},
  "systemd": {"units": [{"dropins": [{"contents": "[Service]\n# Override Execstart in main unit\nExecStart=\nExecStart=-/usr/sbin/agetty --autologin core --noclear %I $TERM\n", "name": "autologin-core.conf"}], "name": "serial-getty@ttyS0.service"}]}}
add("real-trustee-3.5.ign", trustee, "valid")
# lauritsk/iac config.ign (3.4.0, Flatcar sysext)
tailscale = {**V("3.4.0"),
  "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": [KEY]}]},
  "storage": {"files": [
      {"path": "/opt/extensions/tailscale/tailscale-v1.102.2-x86-64.raw", "contents": {"source": "https://extensions.flatcar.org/extensions/tailscale-v1.102.2-x86-64.raw"}, "mode": 420},
      {"path": "/etc/sysupdate.tailscale.d/tailscale.conf", "contents": {"source": "https://extensions.flatcar.org/extensions/tailscale.conf"}},
      {"path": "/etc/sysupdate.d/noop.conf", "contents": {"source": "https://extensions.flatcar.org/extensions/noop.conf"}},
      {"path": "/etc/sysctl.d/99-tailscale.conf", "contents": {"compression": "", "source": "data:,net.ipv4.ip_forward%20%3D%201%0A"}, "mode": 420}],
    "links": [
      {"overwrite": True, "path": "/etc/systemd/system/multi-user.target.wants/tailscaled.service", "target": "/usr/local/lib/systemd/system/tailscaled.service"},
      {"path": "/etc/extensions/tailscale.raw", "hard": False, "target": "/opt/extensions/tailscale/tailscale-v1.102.2-x86-64.raw"}]},
  "systemd": {"units": [{"enabled": True, "name": "systemd-sysupdate.timer"},
    {"dropins": [{"contents": "[Service]\nExecStartPre=/usr/lib/systemd/systemd-sysupdate -C tailscale update\n", "name": "tailscale.conf"}], "name": "systemd-sysupdate.service"}]}}
add("real-flatcar-tailscale-3.4.ign", tailscale, "valid")
# stephane-klein/atomic-os-playground config.ign (3.1.0), compact JSON
playground = {**V("3.1.0"), "passwd": {"users": [{"groups": ["wheel", "sudo"], "name": "stephane", "passwordHash": HASH, "sshAuthorizedKeys": [RSA]}]},
  "storage": {"files": [{"path": "/etc/hostname", "contents": {"compression": "", "source": "data:,stephane-coreos%0A"}, "mode": 420}, {"path": "/etc/vconsole.conf", "contents": {"compression": "", "source": "data:,KEYMAP%3Dfr"}, "mode": 420}]},
  "systemd": {"units": [{"dropins": [{"contents": "[Service]\nExecStart=\nExecStart=-/usr/sbin/agetty --autologin stephane --noclear %I $TERM\n", "name": "autologin-core.conf"}], "name": "getty@tty1.service"}]}}
add("real-playground-3.1.ign", playground, "valid", raw=json.dumps(playground, separators=(",", ":")) + "\n")
# coreos/ignition docs/examples.md
svc = {**V("3.0.0"), "systemd": {"units": [{"name": "example.service", "enabled": True, "contents": "[Service]\nType=oneshot\nExecStart=/usr/bin/echo Hello World\n\n[Install]\nWantedBy=multi-user.target"}]}}
add("docs-start-service-3.0.ign", svc, "valid")
dropin = {**V("3.0.0"), "systemd": {"units": [{"name": "systemd-journald.service", "dropins": [{"name": "debug.conf", "contents": "[Service]\nEnvironment=SYSTEMD_LOG_LEVEL=debug"}]}]}}
add("docs-modify-service-3.0.ign", dropin, "valid")
somefile = {**V("3.0.0"), "storage": {"files": [{"path": "/etc/someconfig", "mode": 420, "contents": {"source": "data:,example%20file%0A"}}]}}
add("docs-create-file-3.0.ign", somefile, "valid")
btrfs = {**V("3.0.0"), "storage": {"filesystems": [{"device": "/dev/disk/by-label/VAR", "path": "/var", "format": "btrfs", "wipeFilesystem": True, "label": "VAR"}],
  "files": [{"path": "/var/example-asset", "mode": 420, "contents": {"source": "http://example.com/asset", "verification": {"hash": H512}}}]}}
add("docs-var-btrfs-3.0.ign", btrfs, "valid")
raid = {**V("3.0.0"), "storage": {"disks": [
    {"device": "/dev/sdb", "wipeTable": True, "partitions": [{"label": "raid.1.1", "number": 1, "sizeMiB": 1024, "startMiB": 0}]},
    {"device": "/dev/sdc", "wipeTable": True, "partitions": [{"label": "raid.1.2", "number": 1, "sizeMiB": 1024, "startMiB": 0}]}],
  "raid": [{"devices": ["/dev/disk/by-partlabel/raid.1.1", "/dev/disk/by-partlabel/raid.1.2"], "level": "stripe", "name": "data"}],
  "filesystems": [{"device": "/dev/md/data", "path": "/var/lib/data", "format": "ext4", "label": "DATA"}]},
  "systemd": {"units": [{"name": "var-lib-data.mount", "enabled": True, "contents": "[Mount]\nWhat=/dev/md/data\nWhere=/var/lib/data\nType=ext4\n\n[Install]\nWantedBy=local-fs.target"}]}}
add("docs-raid-3.0.ign", raid, "valid")
replace = {"ignition": {"version": "3.0.0", "config": {"replace": {"source": "http://example.com/config.json", "verification": {"hash": H512}}}}}
add("docs-replace-3.0.ign", replace, "valid")
hostname = {**V("3.0.0"), "storage": {"files": [{"path": "/etc/hostname", "mode": 420, "overwrite": True, "contents": {"source": "data:,core1"}}]}}
add("docs-hostname-3.0.ign", hostname, "valid")
users = {**V("3.0.0"), "passwd": {"users": [{"name": "systemUser", "passwordHash": "$superSecretPasswordHash.", "sshAuthorizedKeys": ["ssh-rsa veryLongRSAPublicKey"]}, {"name": "jenkins", "uid": 1000}]}}
add("docs-users-3.0.ign", users, "valid")
luks = {**V("3.2.0"), "storage": {"luks": [{"name": "data", "device": "/dev/sdb"}], "filesystems": [{"path": "/var/lib/data", "device": "/dev/disk/by-id/dm-name-data", "format": "ext4", "label": "DATA"}]},
  "systemd": {"units": [{"name": "var-lib-data.mount", "enabled": True, "contents": "[Mount]\nWhat=/dev/disk/by-label/DATA\nWhere=/var/lib/data\nType=ext4\n\n[Install]\nWantedBy=local-fs.target"}]}}
add("docs-luks-3.2.ign", luks, "valid")
kargs = {**V("3.3.0"), "kernelArguments": {"shouldExist": ["example", "foo bar"], "shouldNotExist": ["somekarg"]}}
add("docs-kargs-3.3.ign", kargs, "valid")
# configs embedded in public projects (tests, docs, templates)
ipxe = {**V("3.1.0"), "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": [RSA]}]}}
add("real-ipxe-service-3.1.ign", ipxe, "valid", raw=json.dumps(ipxe, separators=(",", ":")) + "\n")
assisted = {**V("3.1.0"), "passwd": {"users": [{"groups": ["sudo"], "name": "core", "passwordHash": "!", "sshAuthorizedKeys": [RSA]}]},
  "systemd": {"units": [{"name": "var-mnt.mount", "enabled": True, "contents": "[Unit]\nDescription=Mount precached container images\nBefore=precache-images.service\nStopWhenUnneeded=true\n\n[Mount]\nWhat=/dev/disk/by-partlabel/data\nWhere=/var/mnt\nType=xfs\nTimeoutSec=30\n\n[Install]\nWantedBy=multi-user.target"}]}}
add("real-assisted-override-3.1.ign", assisted, "valid", raw=json.dumps(assisted, separators=(",", ":")) + "\n")
hyper = {**V("3.2.0"), "storage": {"files": [{"path": "/old"}]}}
add("real-hypershift-payload-3.2.ign", hyper, "valid")
ove = {**V("3.2.0"), "storage": {"files": [{"path": "/etc/hostname", "contents": {"source": "data:,test-node"}}]}}
add("real-ove-hostname-3.2.ign", ove, "valid")
ztp = {**V("3.1.0"), "storage": {"files": [{"path": "/etc/containers/registries.conf", "overwrite": True, "contents": {"source": "data:text/plain;base64,aGVsbG8gZnJvbSB6dHAgcG9saWN5IGdlbmVyYXRvcg=="}}]}}
add("real-ztp-override-3.1.ign", ztp, "valid")
hetzner = {**V("3.0.0"), "passwd": {"users": [{"name": "root", "sshAuthorizedKeys": [KEY]}]},
  "storage": {"files": [{"path": "/etc/hostname", "mode": 420, "overwrite": True, "contents": {"source": "data:,node-1"}},
    {"path": "/etc/sysconfig/network/ifcfg-eth1", "mode": 420, "overwrite": True, "contents": {"source": "data:,BOOTPROTO%3D%27dhcp%27%0ASTARTMODE%3D%27auto%27"}}]}}
add("real-kube-hetzner-3.0.ign", hetzner, "valid")
# tsotsos/homelab microos ignition.tpl: 2.x leftovers ("filesystem") and a
# private key ("human_read") are only unused keys
microos = {**V("3.2.0"), "passwd": {"users": [{"name": "root", "passwordHash": HASH, "sshAuthorizedKeys": [RSA, KEY]}]},
  "storage": {"files": [{"filesystem": "root", "path": "/etc/hostname", "mode": 420, "overwrite": True, "contents": {"source": "data:,HOST"}},
    {"path": "/etc/NetworkManager/conf.d/noauto.conf", "mode": 420, "overwrite": True, "contents": {"source": "data:text/plain;charset=utf-8;base64,W21haW5dCm5vLWF1dG8tZGVmYXVsdD0qCg==", "human_read": "[main]\nno-auto-default=*\n"}}]}}
add("real-microos-unused-keys-3.2.ign", microos, "valid")
homelab = {**V("3.6.0"), "storage": {
  "links": [{"path": "/etc/systemd/system/multi-user.target.wants/kubeadm-init.service", "target": "/usr/lib/systemd/system/kubeadm-init.service", "overwrite": True}],
  "files": [{"path": "/etc/extensions/homelab_1.raw", "mode": 420, "overwrite": True, "contents": {"source": "http://10.0.2.2:8080/homelab_1.raw", "verification": {"hash": H256}}},
    {"path": "/etc/bluefin/homelab.conf", "mode": 384, "overwrite": True, "contents": {"source": "data:;base64,SE9NRUxBQl9ST0xFPWNvbnRyb2wtcGxhbmUK"}}]}}
add("real-bluefin-homelab-3.6.ign", homelab, "valid")
flatvm = {**V("3.4.0"), "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": [KEY]}]}, "systemd": {"units": [{"name": "sshd.service", "enabled": True}]}}
add("real-flatcar-vm-3.4.ign", flatvm, "valid")
podman = {**V("3.2.0"), "passwd": {"users": [{"name": "core", "uid": 501, "groups": ["sudo", "wheel", "adm", "systemd-journal"], "sshAuthorizedKeys": [RSA]}, {"name": "root", "sshAuthorizedKeys": [RSA]}]},
  "storage": {"files": [{"path": "/etc/hostname", "contents": {"source": "data:text/plain;charset=utf-8;base64,cG9kbWFuLW1hY2hpbmU="}, "mode": 420}]}}
add("real-podman-machine-3.2.ign", podman, "valid")

# ---- mutations (verdicts from the reference's rules) ------------------
def mut(base, f):
    c = copy.deepcopy(base); f(c); return c
def setv(v): return lambda c: c["ignition"].__setitem__("version", v)

add("mut-no-version.ign", mut(fcos_users, lambda c: c["ignition"].pop("version")), "invalid")
add("mut-version-patch.ign", mut(fcos_users, setv("3.2.1")), "invalid")
add("mut-version-metadata.ign", mut(fcos_users, setv("3.2.0+build.1")), "invalid")
add("mut-version-old-experimental.ign", mut(somefile, setv("3.6.0-experimental")), "invalid")
add("mut-version-experimental.ign", mut(somefile, setv("3.7.0-experimental")), "valid")
add("mut-version-future.ign", mut(somefile, setv("3.8.0")), "invalid")
add("mut-version-not-semver.ign", mut(somefile, setv("3")), "invalid")
add("mut-version-number.ign", mut(somefile, setv(3)), "invalid", "$")
add("mut-empty.ign", None, "invalid", raw="")
add("mut-trailing-comma.ign", None, "invalid", "$", raw='{"ignition": {"version": "3.0.0"},}\n')
add("mut-files-object.ign", {**V("3.1.0"), "storage": {"files": {}}}, "invalid", "$")
add("mut-mode-string.ign", mut(somefile, lambda c: c["storage"]["files"][0].__setitem__("mode", "0644")), "invalid", "$")
add("mut-mode-float.ign", mut(somefile, lambda c: c["storage"]["files"][0].__setitem__("mode", 420.5)), "invalid", "$")
add("mut-null-values.ign", {**V("3.3.0"), "storage": None, "systemd": {"units": None}, "passwd": {"users": [{"name": "core", "uid": None, "sshAuthorizedKeys": None}]}}, "valid")
# newer fields in older versions are only unused keys
add("mut-kargs-in-3.0.ign", mut(hostname, lambda c: c.__setitem__("kernelArguments", {"shouldExist": ["a", "a"]})), "valid")
add("mut-luks-in-3.1.ign", mut(playground, lambda c: c["storage"].__setitem__("luks", [{"name": "a/b"}])), "valid")
add("mut-headers-in-3.0.ign", mut(somefile, lambda c: c["storage"]["files"][0]["contents"].__setitem__("httpHeaders", [{"name": ""}])), "valid")
add("mut-compression-merge-3.0.ign", mut(replace, lambda c: c["ignition"]["config"]["replace"].__setitem__("compression", "xz")), "valid")
add("mut-cex-in-3.4.ign", mut(luks, lambda c: (setv("3.4.0")(c), c["storage"]["luks"][0].update({"cex": {"enabled": True}, "clevis": {"tpm2": True}}))), "valid")
add("mut-virtiofs-3.6.ign", {**V("3.6.0"), "storage": {"filesystems": [{"device": "share", "path": "/mnt/share", "format": "virtiofs"}]}}, "invalid",
    "$.storage.filesystems.0.device", "$.storage.filesystems.0.format")
add("mut-virtiofs-3.7.ign", {**V("3.7.0-experimental"), "storage": {"filesystems": [{"device": "share", "path": "/mnt/share", "format": "virtiofs"}]}}, "valid")
add("mut-virtiofs-label-3.7.ign", {**V("3.7.0-experimental"), "storage": {"filesystems": [{"device": "share", "path": "mnt", "format": "virtiofs", "label": "x", "wipeFilesystem": True}]}}, "invalid",
    "$.storage.filesystems.0.path", "$.storage.filesystems.0.label", "$.storage.filesystems.0.wipeFilesystem")
# paths and files
add("mut-relative-path.ign", mut(somefile, lambda c: c["storage"]["files"][0].__setitem__("path", "etc/someconfig")), "invalid", "$.storage.files.0.path")
add("mut-dirty-path.ign", mut(somefile, lambda c: c["storage"]["files"][0].__setitem__("path", "/etc//someconfig")), "invalid", "$.storage.files.0.path")
add("mut-no-path.ign", mut(trustee, lambda c: c["storage"]["directories"][1].pop("path")), "invalid", "$.storage.directories.1.path")
add("mut-mode-too-big.ign", mut(somefile, lambda c: c["storage"]["files"][0].__setitem__("mode", 4096)), "invalid", "$.storage.files.0.mode")
add("mut-special-bits-3.5.ign", mut(trustee, lambda c: c["storage"]["files"][0].__setitem__("mode", 2541)), "valid")
add("mut-special-bits-3.6.ign", mut(homelab, lambda c: c["storage"]["files"][1].__setitem__("mode", 3565)), "valid")
add("mut-overwrite-no-source.ign", mut(hostname, lambda c: c["storage"]["files"][0].pop("contents")), "invalid", "$.storage.files.0.overwrite")
add("mut-overwrite-empty-source.ign", mut(hostname, lambda c: c["storage"]["files"][0]["contents"].__setitem__("source", "")), "valid")
add("mut-hash-size.ign", mut(btrfs, lambda c: c["storage"]["files"][0]["contents"]["verification"].__setitem__("hash", "sha512-abc")), "invalid", "$.storage.files.0.contents.verification.hash")
add("mut-hash-sha256-in-3.0.ign", mut(btrfs, lambda c: c["storage"]["files"][0]["contents"]["verification"].__setitem__("hash", H256)), "invalid", "$.storage.files.0.contents.verification.hash")
add("mut-hash-md5.ign", mut(homelab, lambda c: c["storage"]["files"][0]["contents"]["verification"].__setitem__("hash", "md5-0123")), "invalid", "$.storage.files.0.contents.verification.hash")
add("mut-hash-no-dash.ign", mut(homelab, lambda c: c["storage"]["files"][0]["contents"]["verification"].__setitem__("hash", "0123")), "invalid", "$.storage.files.0.contents.verification.hash")
add("mut-hash-no-source.ign", mut(homelab, lambda c: c["storage"]["files"][0]["contents"].pop("source")), "invalid", "$.storage.files.0.contents.verification.hash", "$.storage.files.0.overwrite")
add("mut-compression-xz.ign", mut(trustee, lambda c: c["storage"]["files"][1]["contents"].__setitem__("compression", "xz")), "invalid", "$.storage.files.1.contents.compression")
add("mut-scheme-ftp.ign", mut(tailscale, lambda c: c["storage"]["files"][1]["contents"].__setitem__("source", "ftp://example.com/x")), "invalid", "$.storage.files.1.contents.source")
add("mut-scheme-file.ign", mut(homelab, lambda c: c["storage"]["files"][1]["contents"].__setitem__("source", "file:///etc/x")), "invalid", "$.storage.files.1.contents.source")
add("mut-gs-in-3.1.ign", mut(playground, lambda c: c["storage"]["files"][0]["contents"].__setitem__("source", "gs://bucket/obj")), "invalid", "$.storage.files.0.contents.source")
add("mut-gs-in-3.2.ign", mut(ove, lambda c: c["storage"]["files"][0]["contents"].__setitem__("source", "gs://bucket/obj")), "valid")
add("mut-arn-in-3.3.ign", mut(kargs, lambda c: c.__setitem__("storage", {"files": [{"path": "/f", "contents": {"source": "arn:aws:s3:::bucket/key"}}]})), "invalid", "$.storage.files.0.contents.source")
add("mut-arn-bad-3.4.ign", mut(tailscale, lambda c: c["storage"]["files"][1]["contents"].__setitem__("source", "arn:aws:s3:::bucket")), "invalid", "$.storage.files.1.contents.source")
add("mut-s3-versionid.ign", mut(tailscale, lambda c: c["storage"]["files"][2]["contents"].__setitem__("source", "s3://bucket/key?versionId=")), "invalid", "$.storage.files.2.contents.source")
add("mut-data-url-bad.ign", mut(ove, lambda c: c["storage"]["files"][0]["contents"].__setitem__("source", "data:;base64,!!!")), "invalid", "$.storage.files.0.contents.source")
add("mut-headers-data.ign", mut(playground, lambda c: c["storage"]["files"][0]["contents"].__setitem__("httpHeaders", [{"name": "A", "value": "b"}])), "invalid", "$.storage.files.0.contents.httpHeaders")
add("mut-headers-empty.ign", mut(tailscale, lambda c: c["storage"]["files"][1]["contents"].__setitem__("httpHeaders", [{"name": "", "value": ""}, {"name": "X"}, {"name": "X", "value": "y"}])), "invalid",
    "$.storage.files.1.contents.httpHeaders.0.name", "$.storage.files.1.contents.httpHeaders.0.value", "$.storage.files.1.contents.httpHeaders.2")
add("mut-merge-no-source-3.1.ign", mut(playground, lambda c: c["ignition"].__setitem__("config", {"merge": [{"verification": {}}]})), "invalid", "$.ignition.config.merge.0")
add("mut-merge-no-source-3.0.ign", mut(hostname, lambda c: c["ignition"].__setitem__("config", {"merge": [{}]})), "valid")
add("mut-replace-ftp-3.0.ign", mut(replace, lambda c: c["ignition"]["config"]["replace"].__setitem__("source", "ftp://example.com/c")), "invalid", "$.ignition.config.replace.source")
add("mut-ca-no-source-3.2.ign", mut(ove, lambda c: c["ignition"].__setitem__("security", {"tls": {"certificateAuthorities": [{"source": ""}]}})), "invalid", "$.ignition.security.tls.certificateAuthorities.0")
add("mut-ca-empty-source-3.0.ign", mut(hostname, lambda c: c["ignition"].__setitem__("security", {"tls": {"certificateAuthorities": [{"source": ""}]}})), "valid")
add("mut-proxy-ftp.ign", mut(playground, lambda c: c["ignition"].__setitem__("proxy", {"httpProxy": "http://proxy:3128", "httpsProxy": "ftp://proxy"})), "invalid", "$.ignition.proxy.httpsProxy")
add("mut-proxy-http-for-https.ign", mut(playground, lambda c: c["ignition"].__setitem__("proxy", {"httpsProxy": "http://proxy:3128", "noProxy": ["a", "b"]})), "valid")
add("mut-proxy-noproxy-dup.ign", mut(playground, lambda c: c["ignition"].__setitem__("proxy", {"noProxy": [".example.com", ".example.com"]})), "invalid", "$.ignition.proxy.noProxy.1")
# links
add("mut-file-through-link.ign", mut(tailscale, lambda c: c["storage"]["files"].append({"path": "/etc/extensions/tailscale.raw/x"})), "invalid", "$.storage.files.4")
add("mut-link-no-target-3.4.ign", mut(tailscale, lambda c: c["storage"]["links"][1].pop("target")), "invalid", "$.storage.links.1.target")
add("mut-link-no-target-3.2.ign", {**V("3.2.0"), "storage": {"links": [{"path": "/etc/l"}]}}, "valid")
add("mut-hardlink-dir.ign", mut(trustee, lambda c: c["storage"].__setitem__("links", [{"path": "/var/h", "target": "/var/as", "hard": True}])), "invalid", "$.storage.links.0")
add("mut-dup-file-dir.ign", mut(trustee, lambda c: c["storage"]["files"].append({"path": "/var/as"})), "invalid", "$.storage.files.5")
add("mut-dup-link-file.ign", mut(tailscale, lambda c: c["storage"]["links"].append({"path": "/etc/sysupdate.d/noop.conf", "target": "/x"})), "invalid", "$.storage.links.2")
add("mut-node-user-id-and-name.ign", mut(somefile, lambda c: c["storage"]["files"][0].update({"user": {"id": 0, "name": "root"}, "group": {"id": 0, "name": ""}})), "invalid", "$.storage.files.0.user")
# systemd
add("mut-unit-no-ext.ign", mut(svc, lambda c: c["systemd"]["units"][0].__setitem__("name", "example")), "invalid", "$.systemd.units.0.name")
add("mut-unit-bad-contents.ign", mut(svc, lambda c: c["systemd"]["units"][0].__setitem__("contents", "[Service\nType=oneshot")), "invalid", "$.systemd.units.0.contents")
add("mut-unit-no-install.ign", mut(svc, lambda c: c["systemd"]["units"][0].__setitem__("contents", "[Service]\nType=oneshot")), "valid")
add("mut-dropin-bad-name.ign", mut(dropin, lambda c: c["systemd"]["units"][0]["dropins"][0].__setitem__("name", "debug")), "invalid", "$.systemd.units.0.dropins.0.name")
add("mut-dup-units.ign", mut(tailscale, lambda c: c["systemd"]["units"].append({"name": "systemd-sysupdate.timer", "mask": True})), "invalid", "$.systemd.units.2")
add("mut-systemd-conflict-3.0.ign", mut(svc, lambda c: c.__setitem__("storage", {"files": [{"path": "/etc/systemd/system/example.service"}]})), "invalid", "$.storage.files.0.path")
add("mut-systemd-dropin-conflict-3.1.ign", mut(playground, lambda c: c["storage"].__setitem__("directories", [{"path": "/etc/systemd/system/getty@tty1.service.d/autologin-core.conf"}])), "invalid", "$.storage.directories.0.path")
# passwd, kargs
add("mut-dup-user.ign", mut(podman, lambda c: c["passwd"]["users"].append({"name": "core"})), "invalid", "$.passwd.users.2")
add("mut-dup-ssh-key.ign", mut(fcos_users, lambda c: c["passwd"]["users"][0]["sshAuthorizedKeys"].append(RSA)), "invalid", "$.passwd.users.0.sshAuthorizedKeys.1")
add("mut-dup-group.ign", mut(podman, lambda c: c["passwd"]["users"][0]["groups"].append("wheel")), "invalid", "$.passwd.users.0.groups.4")
add("mut-kargs-shared.ign", mut(kargs, lambda c: c["kernelArguments"]["shouldNotExist"].append("example")), "invalid", "$.kernelArguments.shouldNotExist.1")
# disks, raid, filesystems
add("mut-partition-collide.ign", mut(raid, lambda c: c["storage"]["disks"][0]["partitions"].append({"label": "other", "number": 1})), "invalid", "$.storage.disks.0.partitions.1")
add("mut-partition-same-label.ign", mut(raid, lambda c: c["storage"]["disks"][0]["partitions"].append({"label": "raid.1.1", "number": 2})), "invalid", "$.storage.disks.0.partitions.1")
add("mut-partition-overlap.ign", mut(raid, lambda c: (c["storage"]["disks"][0]["partitions"][0].__setitem__("startMiB", 1), c["storage"]["disks"][0]["partitions"].append({"number": 2, "startMiB": 100, "sizeMiB": 10}))), "invalid", "$.storage.disks.0.partitions.1")
add("mut-partition-label-colon.ign", mut(raid, lambda c: c["storage"]["disks"][1]["partitions"][0].__setitem__("label", "raid:1")), "invalid", "$.storage.disks.1.partitions.0.label")
add("mut-partition-label-long.ign", mut(raid, lambda c: c["storage"]["disks"][1]["partitions"][0].__setitem__("label", "x" * 37)), "invalid", "$.storage.disks.1.partitions.0.label")
add("mut-partition-guid.ign", mut(raid, lambda c: c["storage"]["disks"][1]["partitions"][0].update({"typeGuid": "raid", "guid": ""})), "invalid", "$.storage.disks.1.partitions.0.typeGuid")
add("mut-partition-should-not-exist.ign", mut(raid, lambda c: c["storage"]["disks"][0]["partitions"][0].__setitem__("shouldExist", False)), "invalid", "$.storage.disks.0.partitions.0")
add("mut-partition-no-number-label.ign", mut(raid, lambda c: c["storage"]["disks"][0]["partitions"].append({"sizeMiB": 5})), "invalid", "$.storage.disks.0.partitions.1")
add("mut-disk-no-device.ign", mut(raid, lambda c: c["storage"]["disks"][1].pop("device")), "invalid", "$.storage.disks.1.device")
add("mut-raid-level.ign", mut(raid, lambda c: c["storage"]["raid"][0].__setitem__("level", "raid7")), "invalid", "$.storage.raid.0.level")
add("mut-raid-no-devices.ign", mut(raid, lambda c: c["storage"]["raid"][0].__setitem__("devices", [])), "invalid", "$.storage.raid.0.devices")
add("mut-raid-spares-stripe.ign", mut(raid, lambda c: c["storage"]["raid"][0].__setitem__("spares", 1)), "invalid", "$.storage.raid.0.level")
add("mut-raid-no-level-3.3.ign", mut(raid, lambda c: (setv("3.3.0")(c), c["storage"]["raid"][0].pop("level"))), "invalid", "$.storage.raid.0.level")
add("mut-fs-label-ext4.ign", mut(raid, lambda c: c["storage"]["filesystems"][0].__setitem__("label", "x" * 17)), "invalid", "$.storage.filesystems.0.label")
add("mut-fs-label-xfs.ign", mut(raid, lambda c: c["storage"]["filesystems"][0].update({"format": "xfs", "label": "x" * 13})), "invalid", "$.storage.filesystems.0.label")
add("mut-fs-format-zfs.ign", mut(raid, lambda c: c["storage"]["filesystems"][0].__setitem__("format", "zfs")), "invalid", "$.storage.filesystems.0.format")
add("mut-fs-format-none-3.0.ign", mut(raid, lambda c: c["storage"]["filesystems"][0].update({"format": "none", "label": None})), "invalid", "$.storage.filesystems.0.format")
add("mut-fs-no-format.ign", mut(btrfs, lambda c: c["storage"]["filesystems"][0].pop("format")), "invalid", "$.storage.filesystems.0.format", "$.storage.filesystems.0.label")
add("mut-fs-overwrites-partitioned.ign", mut(raid, lambda c: c["storage"]["filesystems"].append({"device": "/dev/sdb", "format": "ext4"})), "valid")
# luks, clevis, cex
add("mut-luks-device-relative.ign", mut(luks, lambda c: c["storage"]["luks"][0].update({"device": "dev/sdb", "name": "a/b"})), "invalid", "$.storage.luks.0.device", "$.storage.luks.0.name")
add("mut-luks-keyfile-ftp.ign", mut(luks, lambda c: c["storage"]["luks"][0].__setitem__("keyFile", {"source": "ftp://k"})), "invalid", "$.storage.luks.0.keys", "$.storage.luks.0.keyFile.source")
add("mut-luks-empty-custom-tpm2-3.2.ign", mut(luks, lambda c: c["storage"]["luks"][0].__setitem__("clevis", {"tpm2": True, "custom": {}})), "invalid", "$.storage.luks.0.clevis")
add("mut-luks-empty-custom-tpm2-3.3.ign", mut(luks, lambda c: (setv("3.3.0")(c), c["storage"]["luks"][0].__setitem__("clevis", {"tpm2": True, "custom": {}}))), "valid")
add("mut-luks-custom-needsnet-3.3.ign", mut(luks, lambda c: (setv("3.3.0")(c), c["storage"]["luks"][0].__setitem__("clevis", {"custom": {"needsNetwork": True}}))), "invalid", "$.storage.luks.0.clevis.custom.pin", "$.storage.luks.0.clevis.custom.config")
add("mut-luks-custom-needsnet-3.2.ign", mut(luks, lambda c: c["storage"]["luks"][0].__setitem__("clevis", {"custom": {"needsNetwork": True}})), "valid")
add("mut-luks-custom-pin-3.5.ign", mut(luks, lambda c: (setv("3.5.0")(c), c["storage"]["luks"][0].__setitem__("clevis", {"custom": {"pin": "trustee", "config": "{}"}}))), "invalid", "$.storage.luks.0.clevis.custom.pin")
add("mut-luks-custom-pin-3.6.ign", mut(luks, lambda c: (setv("3.6.0")(c), c["storage"]["luks"][0].__setitem__("clevis", {"custom": {"pin": "trustee", "config": "{}"}}))), "valid")
add("mut-luks-custom-threshold1.ign", mut(luks, lambda c: (setv("3.4.0")(c), c["storage"]["luks"][0].__setitem__("clevis", {"threshold": 1, "custom": {"pin": "sss", "config": "{}"}}))), "invalid", "$.storage.luks.0.clevis")
add("mut-tang-no-thumbprint.ign", mut(luks, lambda c: (setv("3.4.0")(c), c["storage"]["luks"][0].__setitem__("clevis", {"tang": [{"url": "http://tang.example"}, {"url": "tftp://t", "thumbprint": "x", "advertisement": "{"}]}))), "invalid",
    "$.storage.luks.0.clevis.tang.0.thumbprint", "$.storage.luks.0.clevis.tang.1.url", "$.storage.luks.0.clevis.tang.1.advertisement")
add("mut-cex-with-clevis-3.5.ign", mut(luks, lambda c: (setv("3.5.0")(c), c["storage"]["luks"][0].update({"cex": {"enabled": True}, "clevis": {"tpm2": True}}))), "invalid", "$.storage.luks.0.cex")
add("mut-cex-with-keyfile-3.6.ign", mut(luks, lambda c: (setv("3.6.0")(c), c["storage"]["luks"][0].update({"cex": {"enabled": True}, "keyFile": {"source": "data:,key"}}))), "invalid", "$.storage.luks.0.cex")
add("mut-luks-label-long.ign", mut(luks, lambda c: c["storage"]["luks"][0].__setitem__("label", "l" * 48)), "invalid", "$.storage.luks.0.label")
add("mut-luks-openoptions-dup.ign", mut(luks, lambda c: (setv("3.4.0")(c), c["storage"]["luks"][0].update({"openOptions": ["--a", "--a"], "options": ["--b", "--b"]}))), "invalid", "$.storage.luks.0.openOptions.1")

# ---- kitchen-sink disk (issue 16) ----------------------------------------
# The shape of Ignition's blackbox partition tests: shouldExist:false
# partitions next to number:0 partitions and partitions without a start.
# ErrZeroesWithShouldNotExist is a legacy 2.3/2.4 rule only (dropped from
# every v3_* package in Ignition v2.27.0), so the reference accepts these.
kitchen = {**V("3.0.0"), "storage": {"disks": [
  {"device": "/dev/vda", "partitions": [{"label": "boot", "number": 1, "sizeMiB": 384}, {"label": "root", "number": 4, "sizeMiB": 0}]},
  {"device": "/dev/vdb", "wipeTable": False, "partitions": [
    {"label": "p1", "number": 1, "startMiB": 1, "sizeMiB": 32, "typeGuid": "316f19f9-9e0f-431e-859e-ae6908dbe8ca", "guid": "53f2e871-f468-437c-b90d-f3c6409df81a", "wipePartitionEntry": True},
    {"label": "dont-delete", "number": 2, "sizeMiB": 32},
    {"number": 3, "shouldExist": False, "wipePartitionEntry": True},
    {"label": "new-number0", "sizeMiB": 64},
    {"label": "new-number0-fill", "number": 0, "sizeMiB": 0},
    {"number": 9, "shouldExist": False}]}],
  "filesystems": [{"device": "/dev/disk/by-partlabel/new-number0", "format": "ext4", "path": "/var/data", "wipeFilesystem": True}]}}
add("blackbox-kitchen-sink-zeroes-3.0.ign", kitchen, "valid")
add("blackbox-kitchen-sink-zeroes-3.4.ign", mut(kitchen, lambda c: (setv("3.4.0")(c), c["storage"]["disks"][1]["partitions"][1].__setitem__("resize", True))), "valid")
add("blackbox-delete-and-number0-3.6.ign", {**V("3.6.0"), "storage": {"disks": [{"device": "/dev/disk/by-id/coreos-boot-disk", "partitions": [
    {"number": 5, "shouldExist": False, "wipePartitionEntry": True}, {"label": "var", "sizeMiB": 0, "startMiB": 0}]}]}}, "valid")

for name, text in files.items():
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)
with open(os.path.join(OUT, "expect.txt"), "w") as f:
    f.write("# file verdict [error paths...]: the reference's (ignition-validate) outcome,\n")
    f.write("# derived from its validation code; see config/corpus_test.go.\n")
    for name, verdict, paths in expect:
        f.write(" ".join([name, verdict] + paths) + "\n")
print(len(files), "files")
