#!/usr/bin/env bash
# Builds a stock Debian 12 cloud image: a BIOS-bootable qcow2 with cloud-init and
# openssh-server as Debian packages them, and nothing of Nimbus inside. It is what a user
# would upload (a distribution's cloud image), made here from Debian's packages because the
# machines that test Nimbus reach Debian's apt repositories and nothing else; the qemu
# driver's cloud-init test boots it (test/virt/qemu-cloud-init.test.ts).
#
#   scripts/build-cloud-image.sh            # prints the image's path once built
#   openstack image create --disk-format qcow2 --file "$(scripts/build-cloud-image.sh)" debian-12
#
# The image: minbase Debian bookworm (with its security updates) and linux-image-cloud-amd64,
# systemd and dbus, ifupdown and isc-dhcp-client (the network as cloud-init renders it on Debian 12),
# cloud-init with Debian's default datasource list (ConfigDrive and OpenStack among them, as in
# Debian's own cloud images: ds-identify picks), openssh-server, sudo and cloud-guest-utils;
# the locale en_US.UTF-8 generated (cloud-init's default locale on Debian: its locale module
# fails without it); no documentation. MBR partition table: a FAT partition with SYSLINUX, the kernel and its
# initramfs (SYSLINUX installs onto an image file, so no loop device or mount is needed), and
# the ext4 root filled by mkfs.ext4 -d. The root has no password and no user: cloud-init makes
# Debian's default user `debian` and gives it the server's key pair.
#
# Needs root (mmdebstrap's chroot) and: apt-get install mmdebstrap syslinux syslinux-common
# mtools dosfstools fdisk qemu-utils. Exit 2 (and why, on stderr) when something is missing.
# The result is cached under $NIMBUS_CACHE_DIR (default ~/.cache/nimbus), keyed by this
# script's hash: a rerun prints the path at once. NIMBUS_DEBIAN_MIRROR overrides the mirror.
set -euo pipefail

script=$(readlink -f "$0")
key=$(sha256sum "$script" | cut -c1-12)
cache=${NIMBUS_CACHE_DIR:-${HOME:-/root}/.cache/nimbus}/cloud-image
out=$cache/debian-12-cloud-$key.qcow2
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi

missing() {
  echo "build-cloud-image: $*" >&2
  exit 2
}
APT="apt-get install mmdebstrap syslinux syslinux-common mtools dosfstools fdisk qemu-utils"
# Debian's own tools first: mmdebstrap's helpers are python3 scripts that must get Debian's python3.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
[ "$(id -u)" = 0 ] || missing "needs root (mmdebstrap builds the root file system in a chroot)"
for tool in mmdebstrap mkfs.ext4 mkfs.vfat syslinux mcopy sfdisk qemu-img; do
  command -v "$tool" >/dev/null || missing "$tool is not installed ($APT)"
done
MBR=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR" ] || missing "$MBR is missing ($APT)"

mirror=${NIMBUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${NIMBUS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
mkdir -p "$cache"
work=$(mktemp -d "$cache/build.XXXXXX")
# --one-file-system: never into what mmdebstrap may have left mounted in the chroot if it was killed.
cleanup() { for m in dev/pts dev/shm dev sys proc; do umount "$work/root/$m" 2>/dev/null || true; done; rm -rf --one-file-system "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
started=$SECONDS

# Sizes in MiB: the disk is 2 GiB (the smallest flavor it fits is 2 GB), the FAT partition
# holds the kernel and the initramfs.
DISK=2048
BOOT_START=1
BOOT=95
ROOT_START=$((BOOT_START + BOOT))
ROOT=$((DISK - ROOT_START))
root_uuid=$(cat /proc/sys/kernel/random/uuid)

# ── the root file system ────────────────────────────────────────────────────────────────────
echo "build-cloud-image: debootstrapping bookworm (mmdebstrap, minbase)" >&2
packages=linux-image-cloud-amd64,systemd-sysv,udev,dbus,initramfs-tools,zstd,ifupdown,isc-dhcp-client,netbase,iproute2,cloud-init,cloud-guest-utils,openssh-server,sudo
# eatmydata (mmdebstrap's own hook) spares dpkg its fsyncs while it installs, and is gone after.
mmdebstrap --variant=minbase --include="$packages" --hook-dir=/usr/share/mmdebstrap/hooks/eatmydata \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --aptopt='Acquire::Retries "3"' \
  --customize-hook="echo 'UUID=$root_uuid / ext4 rw,discard,errors=remount-ro 0 1' > \"\$1/etc/fstab\"" \
  --customize-hook='echo localhost > "$1/etc/hostname"' \
  --customize-hook='echo "en_US.UTF-8 UTF-8" > "$1/etc/locale.gen"; chroot "$1" locale-gen >/dev/null' \
  --customize-hook='printf "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n" > "$1/etc/hosts"' \
  --customize-hook='printf "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\n" > "$1/etc/network/interfaces"' \
  --customize-hook='rm -f "$1/etc/resolv.conf" "$1"/etc/ssh/ssh_host_*; : > "$1/etc/machine-id"; rm -f "$1/var/lib/dbus/machine-id"' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb' \
  bookworm "$work/root" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" "deb $security bookworm-security main" </dev/null >&2
echo "build-cloud-image: root file system after $((SECONDS - started)) s, $(du -sm "$work/root" | cut -f1) MiB" >&2

# ── the boot partition: SYSLINUX, the kernel, its initramfs ──────────────────────────────────
kernel=$(cd "$work/root/boot" && ls vmlinuz-* | sort -V | tail -1)
version=${kernel#vmlinuz-}
cat >"$work/syslinux.cfg" <<EOF
DEFAULT debian
TIMEOUT 0
PROMPT 0
LABEL debian
  KERNEL /vmlinuz
  INITRD /initrd.img
  APPEND root=UUID=$root_uuid ro console=tty0 console=ttyS0,115200
EOF
mkfs.vfat -n BOOT -C "$work/boot.img" $((BOOT * 1024)) >/dev/null
export MTOOLS_SKIP_CHECK=1
mcopy -i "$work/boot.img" "$work/root/boot/vmlinuz-$version" ::vmlinuz
mcopy -i "$work/boot.img" "$work/root/boot/initrd.img-$version" ::initrd.img
mcopy -i "$work/boot.img" "$work/syslinux.cfg" ::syslinux.cfg
syslinux --install "$work/boot.img"

# ── the root partition ─────────────────────────────────────────────────────────────────────
mkfs.ext4 -q -L root -U "$root_uuid" -d "$work/root" "$work/root.img" "${ROOT}M"
rm -rf "$work/root"

# ── the disk: MBR boot code, the partition table, both partitions ───────────────────────────
truncate -s "${DISK}M" "$work/disk.raw"
sfdisk -q "$work/disk.raw" <<EOF
label: dos
start=${BOOT_START}MiB, size=${BOOT}MiB, type=c, bootable
start=${ROOT_START}MiB, type=83
EOF
dd if="$MBR" of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/boot.img" of="$work/disk.raw" bs=1M seek="$BOOT_START" conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek="$ROOT_START" conv=notrunc,sparse status=none
qemu-img convert -c -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
mv "$work/disk.qcow2" "$out"
echo "build-cloud-image: built in $((SECONDS - started)) s: $(du -m "$out" | cut -f1) MiB, kernel $version" >&2
echo "$out"
