#!/bin/bash
# dracut module for flint, the first-boot provisioning engine.
#
# Installs /usr/bin/flint (from this module's directory, else from the host),
# flint-generator, one unit per stage (flint-<stage>.service), the
# flint-complete and flint-diskful targets and the failure report unit. The
# tools flint drives are optional: a config that needs a missing tool fails
# with a message naming it.

check() {
    # only included on request (a distro module or --modules flint)
    return 255
}

depends() {
    echo systemd systemd-initrd
    return 0
}

installkernel() {
    # fw_cfg (qemu provider), virtio disks and console (journal dump on
    # failure), the filesystems, RAID levels and dm-crypt a config may ask for.
    hostonly='' instmods qemu_fw_cfg virtio_blk virtio_pci virtio_console \
        dm_crypt xts raid0 raid1 raid10 raid456 \
        vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8 ext4 xfs btrfs crc32c_generic hv_utils
}

install() {
    if [[ -x $moddir/flint ]]; then
        inst_simple "$moddir/flint" /usr/bin/flint
    else
        inst_binary /usr/bin/flint
    fi
    inst_script "$moddir/flint-failure.sh" /usr/libexec/flint-failure
    inst_multiple -o sgdisk partx mdadm cryptsetup dmsetup wipefs blkid mount umount udevadm \
        mkfs.ext4 mke2fs mkfs.xfs mkfs.btrfs mkfs.fat mkfs.vfat mkswap \
        useradd usermod userdel groupadd groupmod groupdel chpasswd chgpasswd setfiles \
        systemctl modprobe journalctl systemd-detect-virt cat \
        clevis clevis-luks-bind clevis-luks-unlock clevis-luks-common-functions \
        clevis-encrypt-sss clevis-encrypt-tang clevis-encrypt-tpm2 jose luksmeta pwmake \
        flint-kargs-helper
    [[ -e /etc/mke2fs.conf ]] && inst_simple /etc/mke2fs.conf
    inst_script "$moddir/flint-generator" "$systemdutildir/system-generators/flint-generator"
    local u
    for u in flint-fetch-offline.service flint-fetch.service flint-kargs.service \
             flint-disks.service flint-mount.service flint-files.service \
             flint-remount-sysroot.service flint-complete.target flint-diskful.target \
             flint-failure.service; do
        inst_simple "$moddir/$u" "$systemdsystemunitdir/$u"
    done
    for u in flint-fetch-offline.service flint-fetch.service flint-kargs.service \
             flint-disks.service flint-mount.service flint-files.service; do
        $SYSTEMCTL -q --root "$initdir" add-requires flint-complete.target "$u"
    done
    $SYSTEMCTL -q --root "$initdir" add-requires flint-diskful.target flint-remount-sysroot.service
    $SYSTEMCTL -q --root "$initdir" add-wants emergency.target flint-failure.service
}
