#!/usr/bin/env node
// Builds the tiny guest the qemu driver seeds as the image nimbus-tiny: Debian's cloud kernel
// and a busybox initramfs (apt-get install linux-image-cloud-amd64 busybox-static). Nimbus
// builds it by itself into <dataDir>/guest on its first start on the qemu driver; this script
// builds it anywhere (default ./.nimbus/guest), to look at or to boot by hand:
//   qemu-system-x86_64 -m 128 -nographic -kernel DIR/vmlinuz -initrd DIR/initrd.img -append console=ttyS0
// It needs the compiled sources (npm run build).
import { resolve } from 'node:path';
import { statSync } from 'node:fs';

const dir = resolve(process.argv[2] ?? '.nimbus/guest');
const { buildTinyGuest } = await import(new URL('../dist/src/virt/qemu/tiny-guest.js', import.meta.url).href);
const guest = buildTinyGuest(dir);
for (const [what, path] of Object.entries({ kernel: guest.kernel, ramdisk: guest.ramdisk, disk: guest.disk })) {
  console.log(`${what.padEnd(8)} ${path}  ${(statSync(path).size / 1048576).toFixed(1)} MiB`);
}
console.log(`kernel version ${guest.kernelVersion}`);
