import type { FakeDriver } from '../../src/virt/fake/driver.js';

/** The fake's guests as the contract looks inside them: what the fake keeps of each. */
export function fakeInside(fakeOf: (host: string) => FakeDriver) {
  return {
    shrinks: true,
    writeDisk: async (host: string, id: string, data: string) => fakeOf(host).writeDisk(host, id, data),
    inside: async (host: string, id: string) => {
      const g = fakeOf(host).inside(host, id);
      return { data: g.data ?? '', diskBytes: (g.diskGb ?? 0) * 2 ** 30, memoryMb: g.memoryMb ?? 0 };
    },
    keeps: (host: string, id: string) => fakeOf(host).keeps(host, id),
    diskSizes: async (host: string, id: string) => [(fakeOf(host).inside(host, id).diskGb ?? 0) * 2 ** 30, ...fakeOf(host).pluggedDrives(id).map((d) => fakeOf(host).driveOf(d)!.size)],
    /** The fake keeps what is plugged into its guests itself. */
    recordDrives: () => {},
  };
}
