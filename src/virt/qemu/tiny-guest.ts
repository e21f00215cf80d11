import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { initramfs, type CpioEntry } from './cpio.js';
import { METADATA_OEM_STRING } from './machine.js';

/** What the tiny guest prints first on its console once its init runs: tests wait for it. */
export const BOOT_MARKER = 'nimbus-tiny-guest: booted';

/**
 * The tiny guest, built from Debian's packages on this host: the cloud kernel
 * (linux-image-cloud-amd64), its virtio, ISO 9660 and ACPI button modules, and a static
 * busybox (busybox-static) as every command of a small init. It boots in seconds under TCG in
 * 128 MiB, and shows on its serial console what a cloud gave it: the SMBIOS system
 * information, its disks, the config drive's files, its DHCP address, and what the metadata
 * service at 169.254.169.254 answers (meta_data.json and a few EC2 keys) when its SMBIOS OEM
 * strings say the host serves one. It powers off on
 * ACPI power-off, and on request: a user data line `#nimbus-tiny-guest: poweroff` powers it
 * off after boot; `#nimbus-tiny-guest: post-password TEXT` posts TEXT to the metadata
 * service as its password. With a second serial port (a CloudSigma
 * server's context) it prints its server context once booted; `server-context PATH` in its
 * shell reads one value. Then a shell waits on its serial port.
 */
export interface TinyGuest {
  kernel: string;
  ramdisk: string;
  disk: string;
  kernelVersion: string;
}

/** Modules the init loads, in dependency order (modprobe --show-depends of virtio_pci, virtio_blk, virtio_net, isofs, button, evdev): busybox's acpid hears the power button through evdev. */
const MODULES = [
  'drivers/virtio/virtio_ring.ko',
  'drivers/virtio/virtio.ko',
  'drivers/virtio/virtio_pci_modern_dev.ko',
  'drivers/virtio/virtio_pci_legacy_dev.ko',
  'drivers/virtio/virtio_pci.ko',
  'drivers/block/virtio_blk.ko',
  'net/core/failover.ko',
  'drivers/net/net_failover.ko',
  'drivers/net/virtio_net.ko',
  'drivers/cdrom/cdrom.ko',
  'fs/isofs/isofs.ko',
  'drivers/acpi/button.ko',
  'drivers/input/evdev.ko',
];

/** The metadata service's address (Nova's, EC2's): the guest reaches it through its default route. */
const METADATA = '169.254.169.254';

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${MODULES.map((m) => m.split('/').pop()).join(' ')}; do insmod /lib/modules/$m 2>/dev/null; done
echo "${BOOT_MARKER}"
echo "nimbus-tiny-guest: smbios manufacturer=$(cat /sys/class/dmi/id/sys_vendor) product=$(cat /sys/class/dmi/id/product_name) serial=$(cat /sys/class/dmi/id/product_serial) uuid=$(cat /sys/class/dmi/id/product_uuid)"
mkdir -p /etc/acpi/PWRF /mnt/config
printf '#!/bin/sh\\necho "nimbus-tiny-guest: ACPI power button, powering off"\\npoweroff -f\\n' > /etc/acpi/PWRF/00000080
chmod +x /etc/acpi/PWRF/00000080
mkdir -p /var/run /var/log
acpid -c /etc/acpi -l /var/log/acpid.log
mdev -s
sleep 1
for d in /sys/block/vd*; do
  n=\${d##*/}
  kind=other
  [ "$(dd if=/dev/$n bs=1 skip=4086 count=10 2>/dev/null)" = SWAPSPACE2 ] && kind=swap
  label=$(dd if=/dev/$n bs=1 skip=1144 count=16 2>/dev/null | tr -d '\\000')
  [ -n "$label" ] && kind="ext label=$label"
  echo "nimbus-tiny-guest: disk /dev/$n sectors=$(cat $d/size) $kind"
done
for d in /dev/vd* /dev/sr*; do
  [ -b "$d" ] || continue
  if mount -t iso9660 -o ro "$d" /mnt/config 2>/dev/null; then
    if [ -d /mnt/config/openstack/latest ]; then
      echo "nimbus-tiny-guest: config drive $d"
      for f in meta_data.json user_data network_data.json vendor_data.json vendor_data2.json; do
        [ -f /mnt/config/openstack/latest/$f ] || continue
        echo "--- config-drive openstack/latest/$f"
        cat /mnt/config/openstack/latest/$f
        echo
        echo "--- end"
      done
      break
    fi
    umount /mnt/config
  fi
done
ifconfig lo 127.0.0.1 up
if [ -e /sys/class/net/eth0 ]; then
  ifconfig eth0 up
  udhcpc -i eth0 -s /bin/dhcp-event -q -n -t 5 -T 2
fi
userdata=/mnt/config/openstack/latest/user_data
md=http://${METADATA}
fetch() { timeout 20 wget -q -O "$2" "$md$1" 2>/dev/null; }
show() { echo "--- metadata-service $1"; head -c 4096 "$2"; echo; echo "--- end"; }
if ! grep -q ${METADATA_OEM_STRING} /sys/firmware/dmi/tables/DMI 2>/dev/null; then
  echo "nimbus-tiny-guest: the host serves no metadata service"
elif [ -e /sys/class/net/eth0 ] && fetch /openstack/latest/meta_data.json /tmp/meta_data.json; then
  show openstack/latest/meta_data.json /tmp/meta_data.json
  for p in latest/meta-data/ latest/meta-data/instance-id latest/meta-data/hostname latest/meta-data/local-ipv4 latest/meta-data/placement/availability-zone latest/meta-data/public-keys/0/openssh-key; do
    if fetch /$p /tmp/ec2; then show $p /tmp/ec2; fi
  done
  if [ ! -f $userdata ] && fetch /openstack/latest/user_data /tmp/user_data; then userdata=/tmp/user_data; fi
  pw=$(sed -n 's/^#nimbus-tiny-guest: post-password //p' $userdata 2>/dev/null | head -n 1)
  if [ -n "$pw" ]; then
    if timeout 20 wget -q -O /dev/null --post-data "$pw" $md/openstack/latest/password 2>/dev/null; then echo "nimbus-tiny-guest: password posted"; else echo "nimbus-tiny-guest: password post refused"; fi
  fi
else
  echo "nimbus-tiny-guest: no metadata service"
fi
# A second serial port (QEMU gives one to a CloudSigma server with context): its server context.
if grep '^1:' /proc/tty/driver/serial 2>/dev/null | grep -qv unknown; then server-context; fi
echo "nimbus-tiny-guest: ready"
if grep -q '^#nimbus-tiny-guest: poweroff' $userdata 2>/dev/null; then
  echo "nimbus-tiny-guest: powering off as its user data asks"
  poweroff -f
fi
while :; do sh </dev/ttyS0 >/dev/ttyS0 2>&1; done
`;

const DHCP_EVENT = `#!/bin/sh
[ "$1" = bound ] || [ "$1" = renew ] || exit 0
ifconfig "$interface" "$ip" netmask "$subnet" up
[ -n "$router" ] && route add default gw "$router" dev "$interface" 2>/dev/null
echo "nimbus-tiny-guest: address $interface $ip"
`;

/**
 * `server-context [PATH]`: CloudSigma's server context protocol on the second serial port,
 * the answer printed under a marker (`<PATH>` then the value, a line); three tries of 5 s.
 */
const SERVER_CONTEXT = `#!/bin/sh
stty -F /dev/ttyS1 raw -echo 2>/dev/null || { echo "nimbus-tiny-guest: server context <$1> unavailable"; exit 1; }
exec 3<>/dev/ttyS1
for try in 1 2 3; do
  printf '<\\n%s\\n>' "$1" >&3
  if IFS= read -r -t 5 answer <&3; then
    # The answer ends in a newline and EOT: the EOT is what the next read starts with.
    echo "nimbus-tiny-guest: server context <$1> $(printf '%s' "$answer" | tr -d '\\004\\r')"
    exit 0
  fi
done
echo "nimbus-tiny-guest: server context <$1> no answer"
exit 1
`;

/** The Debian kernel on this host (the newest vmlinuz in /boot with its modules), or null. */
export function findKernel(boot = '/boot'): { path: string; version: string } | null {
  if (!existsSync(boot)) return null;
  const versions = readdirSync(boot)
    .filter((f) => f.startsWith('vmlinuz-'))
    .map((f) => f.slice('vmlinuz-'.length))
    .filter((v) => existsSync(join('/lib/modules', v, 'kernel', MODULES[0])))
    .sort();
  const version = versions.pop();
  return version ? { path: join(boot, `vmlinuz-${version}`), version } : null;
}

export const BUSYBOX = '/bin/busybox';

/**
 * Builds the tiny guest into `dir` (kernel, ramdisk, and a 1 MiB raw root disk that the
 * flavor's size grows), or returns the one built there before. Throws, saying which
 * package is missing, when the host lacks the kernel or busybox.
 */
export function buildTinyGuest(dir: string): TinyGuest {
  const kernel = findKernel();
  if (!kernel) throw new Error('no Debian kernel with modules in /boot: install linux-image-cloud-amd64');
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} is missing: install busybox-static`);
  const out = { kernel: join(dir, 'vmlinuz'), ramdisk: join(dir, 'initrd.img'), disk: join(dir, 'disk.raw'), kernelVersion: kernel.version };
  const stamp = join(dir, 'built-from');
  const from = `${kernel.version} ${createHash('sha256').update(INIT + DHCP_EVENT + SERVER_CONTEXT).digest('hex')}`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === from && [out.kernel, out.ramdisk, out.disk].every(existsSync)) return out;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const entries: CpioEntry[] = ['bin', 'dev', 'proc', 'sys', 'mnt', 'etc', 'tmp', 'lib', 'lib/modules'].map((path) => ({ kind: 'dir', path }));
  entries.push({ kind: 'file', path: 'bin/busybox', data: readFileSync(BUSYBOX), mode: 0o755 });
  entries.push({ kind: 'file', path: 'init', data: Buffer.from(INIT), mode: 0o755 });
  entries.push({ kind: 'file', path: 'bin/dhcp-event', data: Buffer.from(DHCP_EVENT), mode: 0o755 });
  entries.push({ kind: 'file', path: 'bin/server-context', data: Buffer.from(SERVER_CONTEXT), mode: 0o755 });
  for (const m of MODULES) entries.push({ kind: 'file', path: `lib/modules/${m.split('/').pop()}`, data: readFileSync(join('/lib/modules', kernel.version, 'kernel', m)) });
  const write = (path: string, data: Buffer) => {
    writeFileSync(path + '.tmp', data, { mode: 0o600 });
    renameSync(path + '.tmp', path);
  };
  copyFileSync(kernel.path, out.kernel + '.tmp');
  renameSync(out.kernel + '.tmp', out.kernel);
  write(out.ramdisk, initramfs(entries));
  write(out.disk, Buffer.alloc(1024 * 1024));
  writeFileSync(stamp, from);
  return out;
}
