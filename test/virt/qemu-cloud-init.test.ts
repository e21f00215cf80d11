/**
 * A stock cloud image on the qemu driver: Debian 12 with cloud-init as Debian packages it
 * (scripts/build-cloud-image.sh), uploaded through the image API and booted unchanged. What
 * cloud-init makes of what Nimbus tells it is checked from inside, over SSH with the key pair
 * made through the API: the hostname, the key, the user data, the network configuration.
 * Twice, in parallel: through the config drive (an in-process cloud), and through the
 * metadata service alone (`nimbus serve` in a network namespace of its own, as in
 * qemu-metadata.test.ts: root, as in CI). 512 MiB guests under TCG: a few minutes each.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, DEMO_PASSWORD, passwordToken, request, startCloud, type TestCloud } from '../support.js';
import { killQemusUnder, qemuMissing } from './qemu-support.js';
import { namespaceMissing, startNamespacedNimbus, type NamespacedNimbus } from './namespaced-nimbus.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const compute = '/compute/v2.1';
const required = process.env.CI === 'true' || process.env.NIMBUS_TEST_QEMU === 'required';
/** How long a 512 MiB Debian guest may take under TCG to reach cloud-init's last stage on a busy host. */
const BOOT_TIMEOUT_MS = 12 * 60000;

/** The stock image (built, or found in the cache, by the script; or NIMBUS_TEST_CLOUD_IMAGE, another cloud image to try), or why there is none. */
function stockImage(): { path: string } | { missing: string } {
  if (process.env.NIMBUS_TEST_CLOUD_IMAGE) return { path: process.env.NIMBUS_TEST_CLOUD_IMAGE };
  const r = spawnSync(join(ROOT, 'scripts/build-cloud-image.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30 * 60000 });
  if (r.status === 0) return { path: r.stdout.trim().split('\n').pop()! };
  const why = r.status === 2 ? r.stderr.trim().split('\n').pop()! : `scripts/build-cloud-image.sh failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr.slice(-3000)}`;
  if (r.status !== 2 || required) throw new Error(why);
  return { missing: `the stock cloud image cannot be built here: ${why}` };
}

// What the guest is told does not depend on the database (the metadata service's answers on
// both databases: test/api/compute/metadata-service.test.ts): booted once, in the SQLite pass.
const qemu = process.env.NIMBUS_TEST_DATABASE_URL ? 'the stock image boots once, in the SQLite pass: what the guest sees does not depend on the database' : qemuMissing();
const image = qemu ? null : stockImage();
const skip = qemu || (image && 'missing' in image ? image.missing : false);

/** The user data: cloud-config whose runcmd writes a marker to the serial console. */
const MARKER = 'nimbus-cloud-init-test: user data ran';
const USER_DATA = `#cloud-config
runcmd:
  - [sh, -c, 'echo "${MARKER} as $(id -un)" > /dev/ttyS0']
`;

/** One cloud (its URL and tokens) and how to run a command where its forwarded ports are reachable. */
interface Booted {
  url: string;
  demo: string;
  admin: string;
  id: string;
  name: string;
  privateKey: string;
  /** Prefix of a command run in the cloud's network namespace ([] for this one). */
  inNamespace: string[];
}

/** Uploads the stock image, makes a 512 MiB flavor and a key pair through the API, boots a server, waits for its user data's marker. */
async function bootStockGuest(url: string, demo: string, admin: string, name: string, configDrive: boolean, inNamespace: string[], keyDir: string): Promise<Booted> {
  const img = await request(url, 'POST', '/image/v2/images', { token: demo, body: { name: 'debian-12-stock', disk_format: 'qcow2', container_format: 'bare' } });
  assert.equal(img.status, 201, img.text);
  const put = await request(url, 'PUT', `/image/v2/images/${img.body.id}/file`, { token: demo, raw: readFileSync((image as { path: string }).path), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(put.status, 204, put.text);
  const f = await request(url, 'POST', `${compute}/flavors`, { token: admin, body: { flavor: { name: 'ci.small', ram: 512, vcpus: 1, disk: 2 } } });
  assert.equal(f.status, 200, f.text);
  const k = await request(url, 'POST', `${compute}/os-keypairs`, { token: demo, body: { keypair: { name: 'ci-key' } } });
  assert.equal(k.status, 200, k.text);
  const privateKey = join(keyDir, `${name}.key`);
  writeFileSync(privateKey, k.body.keypair.private_key);
  chmodSync(privateKey, 0o600);
  const r = await request(url, 'POST', `${compute}/servers`, {
    token: demo,
    body: { server: { name, imageRef: img.body.id, flavorRef: f.body.flavor.id, key_name: 'ci-key', config_drive: configDrive, user_data: Buffer.from(USER_DATA).toString('base64') } },
  });
  assert.equal(r.status, 202, r.text);
  const id = r.body.server.id as string;
  const until = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    const s = (await request(url, 'GET', `${compute}/servers/${id}`, { token: demo })).body.server;
    if (s.status === 'ERROR') throw new Error(`${name} went to ERROR: ${JSON.stringify(s.fault)}`);
    const out = await request(url, 'POST', `${compute}/servers/${id}/action`, { token: demo, body: { 'os-getConsoleOutput': { length: null } } });
    const text = out.status === 200 ? (out.body.output as string) : '';
    if (text.includes(MARKER)) break;
    if (Date.now() > until) throw new Error(`${name}: the user data's marker never came; the console shows:\n${text.slice(-4000)}`);
    await sleep(2000);
  }
  return { url, demo, admin, id, name, privateKey, inNamespace };
}

/** What the guest shows of itself, section by section: one SSH session (a login costs tens of seconds under TCG). */
const INSIDE = [
  'echo "== user"; id -un',
  'echo "== hostname"; hostname',
  'echo "== status"; cloud-init status --long || true',
  'echo "== result"; cat /run/cloud-init/result.json',
  'echo "== interfaces"; cat /etc/network/interfaces.d/50-cloud-init',
  'echo "== addresses"; ip -4 -o addr show scope global',
  'echo "== route"; ip -4 route show default',
  // The debian user may sudo without a password (cloud-init's default user): the log is root's.
  'echo "== network-source"; sudo -n grep -o "Applying network configuration from [a-z]*" /var/log/cloud-init.log',
  'echo "== disks"; lsblk -rno NAME,LABEL',
  'echo "== warnings"; sudo -n grep -E "\\[(WARNING|ERROR|CRITICAL)\\]" /var/log/cloud-init.log || true',
].join('; ');

/**
 * Runs INSIDE in the guest over SSH as Debian's default user with the server's key pair,
 * through the loopback port the server's diagnostics name; its sections by name.
 */
async function inside(b: Booted): Promise<Record<string, string>> {
  const d = await request(b.url, 'GET', `${compute}/servers/${b.id}/diagnostics`, { token: b.admin });
  assert.equal(d.status, 200, d.text);
  const port = d.body.ssh_forward_port as number;
  const args = ['-i', b.privateKey, '-p', String(port), '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=60', '-o', 'LogLevel=ERROR', 'debian@127.0.0.1', INSIDE];
  const [file, ...rest] = [...b.inNamespace, 'ssh', ...args];
  let last = '';
  // sshd may still be starting when cloud-init's last stage has run: a few tries.
  for (let attempt = 0; attempt < 6; attempt++) {
    const r = await new Promise<{ ok: boolean; out: string; err: string }>((resolve) =>
      execFile(file, rest, { timeout: 180000, encoding: 'utf8' }, (err, out, errOut) => resolve({ ok: !err, out, err: `${err?.message ?? ''}\n${errOut}` })),
    );
    if (r.ok) {
      const sections: Record<string, string> = {};
      for (const part of r.out.split(/^== /m).slice(1)) {
        const nl = part.indexOf('\n');
        sections[part.slice(0, nl)] = part.slice(nl + 1);
      }
      return sections;
    }
    last = r.err;
    // A refused key is an answer, not a guest still starting.
    if (/Permission denied/.test(last)) break;
    await sleep(5000);
  }
  throw new Error(`ssh to ${b.name} failed: ${last.trim()}`);
}

/** The checks both ways of telling the guest share: each reads from inside the guest. */
function whatCloudInitDid(booted: () => { b: Booted; seen: Record<string, string> }, datasource: RegExp) {
  it("the key pair made through the API lets its holder log in over SSH as Debian's default user", () => {
    // inside() logged in with the key pair's private key, through the diagnostics' port.
    assert.equal(booted().seen.user.trim(), 'debian');
  });

  it('cloud-init ran to the end with no error, from the datasource it should have used', (t) => {
    const { status, result, warnings } = booted().seen;
    // What cloud-init warned about (nothing of it is Nimbus's today): in the TAP output, to read.
    if (warnings.trim()) t.diagnostic(`cloud-init's log warns:\n${warnings.trim()}`);
    assert.match(status, /status: done/, status);
    assert.match(status, datasource, status);
    const r = JSON.parse(result);
    assert.match(r.v1.datasource, datasource);
    assert.deepEqual(r.v1.errors, [], result);
  });

  it("the guest's hostname is the server's", () => {
    const { b, seen } = booted();
    assert.equal(seen.hostname.trim(), b.name);
  });

  it('the user data ran as root (its runcmd wrote a marker to the console)', async () => {
    const { b } = booted();
    const out = await request(b.url, 'POST', `${compute}/servers/${b.id}/action`, { token: b.demo, body: { 'os-getConsoleOutput': { length: null } } });
    assert.match(out.body.output, new RegExp(`${MARKER} as root`));
  });

  it("network_data.json configured the NIC (DHCP, as the subnet has it): the port's fixed IP, the subnet's gateway as default route", async () => {
    const { b, seen } = booted();
    const server = (await request(b.url, 'GET', `${compute}/servers/${b.id}`, { token: b.demo })).body.server;
    const fixed = (Object.values(server.addresses)[0] as { addr: string; version: number }[]).find((a) => a.version === 4)!.addr;
    const port = (await request(b.url, 'GET', `/network/v2.0/ports?device_id=${b.id}`, { token: b.demo })).body.ports[0];
    const subnet = (await request(b.url, 'GET', `/network/v2.0/subnets/${port.fixed_ips[0].subnet_id}`, { token: b.demo })).body.subnet;
    // From the datasource's network_data.json, not cloud-init's fallback (DHCP on the first NIC too).
    assert.match(seen['network-source'], /Applying network configuration from ds/, seen['network-source']);
    assert.match(seen.interfaces, /iface \S+ inet dhcp/, seen.interfaces);
    assert.match(seen.addresses, new RegExp(`inet ${fixed.replace(/\./g, '\\.')}/`), seen.addresses);
    assert.match(seen.route, new RegExp(`^default via ${subnet.gateway_ip.replace(/\./g, '\\.')} `), seen.route);
  });
}

describe('a stock cloud-init image on the qemu driver', { skip, concurrency: true }, () => {
  const keyDir = mkdtempSync(join(tmpdir(), 'nimbus-ci-keys-'));
  after(() => rmSync(keyDir, { recursive: true, force: true }));

  describe('told through the config drive', () => {
    let cloud: TestCloud;
    let booted: { b: Booted; seen: Record<string, string> };
    before(async () => {
      cloud = await startCloud({ driver: 'qemu', qemu: { forceConfigDrive: false, tbSizeMb: 64 } });
      const b = await bootStockGuest(cloud.url, cloud.demoToken, cloud.adminToken, 'ci-drive', true, [], keyDir);
      booted = { b, seen: await inside(b) };
    });
    after(async () => {
      if (!cloud) return;
      killQemusUnder(cloud.dataDir);
      await cloud.close();
    });
    whatCloudInitDid(() => booted, /DataSourceConfigDrive/);
  });

  describe('told through the metadata service alone', { skip: namespaceMissing() }, () => {
    let nimbus: NamespacedNimbus | undefined;
    let booted: { b: Booted; seen: Record<string, string> };

    before(async () => {
      nimbus = await startNamespacedNimbus('ci', { driver: 'qemu', qemu: { metadataService: true, forceConfigDrive: false, tbSizeMb: 64 } });
      assert.match(nimbus.output(), /metadata service listening on http:\/\/169\.254\.169\.254:80/);
      const demo = (await passwordToken(nimbus.url, 'demo', DEMO_PASSWORD, 'demo')).token;
      const admin = (await passwordToken(nimbus.url, 'admin', ADMIN_PASSWORD, 'admin')).token;
      const guest = await bootStockGuest(nimbus.url, demo, admin, 'ci-metadata', false, ['ip', 'netns', 'exec', nimbus.ns], keyDir);
      booted = { b: guest, seen: await inside(guest) };
    });

    after(async () => {
      await nimbus?.stop();
    });

    it('the guest has no config drive', () => {
      assert.match(booted.seen.disks, /^vda/m, booted.seen.disks);
      assert.doesNotMatch(booted.seen.disks, /config-2/i, booted.seen.disks);
    });
    whatCloudInitDid(() => booted, /DataSourceOpenStack/);
  });
});
