/**
 * The metadata service for real machines: `nimbus serve` on the qemu driver takes
 * 169.254.169.254 and tells each tiny guest (no config drive) about itself. It runs in a
 * network namespace of its own (root, as in CI), joined to the test by a veth pair: the
 * address it puts on lo is that namespace's alone, so this machine's own 169.254.169.254
 * and other tests' processes are never touched. One guest, kept through every test.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_PASSWORD, DEMO_PASSWORD, passwordToken, request } from '../support.js';
import { qemuMissing, waitForConsole } from './qemu-support.js';
import { ip, namespaceMissing, startNamespacedNimbus, type NamespacedNimbus } from './namespaced-nimbus.js';

const ROOT = new URL('../../..', import.meta.url).pathname;

const skip = qemuMissing() || namespaceMissing();

describe('the metadata service on the qemu driver', { skip }, () => {
  let nimbus: NamespacedNimbus;
  let url: string;
  let demo: string;
  let id: string;
  let key: string;
  const compute = '/compute/v2.1';
  const postedPassword = 'guest-secret-42';

  const consoleText = async () => {
    const r = await request(url, 'POST', `${compute}/servers/${id}/action`, { token: demo, body: { 'os-getConsoleOutput': { length: null } } });
    return r.status === 200 ? (r.body.output as string) : '';
  };
  /** The block the tiny guest printed for a metadata path. */
  const printed = async (path: string) => {
    const out = await consoleText();
    const m = new RegExp(`--- metadata-service ${path.replace(/[/.]/g, '\\$&')}\\r?\\n([^]*?)\\r?\\n--- end`).exec(out);
    assert.ok(m, `the guest printed no ${path}:\n${out.slice(-3000)}`);
    return m[1];
  };

  before(async () => {
    nimbus = await startNamespacedNimbus('md', { driver: 'qemu', qemu: { shutdownTimeout: 10, metadataService: true } });
    url = nimbus.url;
    assert.match(nimbus.output(), /metadata service listening on http:\/\/169\.254\.169\.254:80/);
    demo = (await passwordToken(url, 'demo', DEMO_PASSWORD, 'demo')).token;
    const admin = (await passwordToken(url, 'admin', ADMIN_PASSWORD, 'admin')).token;
    const f = await request(url, 'POST', `${compute}/flavors`, { token: admin, body: { flavor: { name: 'md.nano', ram: 128, vcpus: 1, disk: 1 } } });
    assert.equal(f.status, 200, f.text);
    const images = await request(url, 'GET', '/image/v2/images?name=nimbus-tiny', { token: demo });
    const k = await request(url, 'POST', `${compute}/os-keypairs`, { token: demo, body: { keypair: { name: 'mdkey' } } });
    assert.equal(k.status, 200, k.text);
    key = k.body.keypair.public_key;
    const userData = `#nimbus-tiny-guest: post-password ${postedPassword}\n`;
    const r = await request(url, 'POST', `${compute}/servers`, {
      token: demo,
      body: { server: { name: 'md-vm', imageRef: images.body.images[0].id, flavorRef: f.body.flavor.id, key_name: 'mdkey', metadata: { role: 'asked' }, user_data: Buffer.from(userData).toString('base64') } },
    });
    assert.equal(r.status, 202, r.text);
    id = r.body.server.id;
    await waitForConsole(consoleText, 'nimbus-tiny-guest: ready', 0, 300000);
  });

  after(async () => {
    await nimbus?.stop();
  });

  it('a server without a config drive reads its own uuid, name and metadata from the metadata service', async () => {
    const out = await consoleText();
    assert.doesNotMatch(out, /nimbus-tiny-guest: config drive/);
    const md = JSON.parse(await printed('openstack/latest/meta_data.json'));
    assert.equal(md.uuid, id);
    assert.equal(md.name, 'md-vm');
    assert.equal(md.hostname, 'md-vm');
    assert.deepEqual(md.meta, { role: 'asked' });
    assert.equal(md.public_keys.mdkey, key);
  });

  it('EC2 paths answer the guest: the meta-data listing, instance-id, hostname, local-ipv4, zone and its key', async () => {
    const server = (await request(url, 'GET', `${compute}/servers/${id}`, { token: demo })).body.server;
    const addr = (Object.values(server.addresses)[0] as { addr: string }[])[0].addr;
    const listing = (await printed('latest/meta-data/')).split(/\r?\n/);
    for (const k of ['instance-id', 'hostname', 'local-ipv4', 'placement/', 'public-keys/']) assert.ok(listing.includes(k), `${k} in ${listing}`);
    assert.equal(await printed('latest/meta-data/instance-id'), `i-${id.replace(/-/g, '').slice(0, 8)}`);
    assert.equal(await printed('latest/meta-data/hostname'), 'md-vm');
    assert.equal(await printed('latest/meta-data/local-ipv4'), addr);
    assert.equal(await printed('latest/meta-data/placement/availability-zone'), 'nova');
    assert.equal(await printed('latest/meta-data/public-keys/0/openssh-key'), key);
  });

  it('the password the guest posted is what os-server-password shows its owner, until DELETE clears it', async () => {
    assert.match(await consoleText(), /nimbus-tiny-guest: password posted/);
    const pw = `${compute}/servers/${id}/os-server-password`;
    assert.deepEqual((await request(url, 'GET', pw, { token: demo })).body, { password: postedPassword });
    assert.equal((await request(url, 'DELETE', pw, { token: demo })).status, 204);
    assert.deepEqual((await request(url, 'GET', pw, { token: demo })).body, { password: '' });
  });

  it('a process of the host that is no machine gets 404 at 169.254.169.254, never an answer about a server', async () => {
    const script = `
      const http = require('node:http');
      const ask = (path, body) => new Promise((resolve) => {
        const req = http.request({ host: '169.254.169.254', port: 80, path, method: body ? 'POST' : 'GET', agent: false }, (res) => {
          let text = ''; res.on('data', (c) => (text += c)); res.on('end', () => resolve({ path, status: res.statusCode, text }));
        });
        req.on('error', (e) => resolve({ path, status: 0, text: e.message }));
        req.end(body);
      });
      (async () => {
        const out = [];
        for (const p of ['/openstack/latest/meta_data.json', '/openstack/latest/user_data', '/latest/meta-data/instance-id', '/latest/meta-data/', '/openstack/latest/password']) out.push(await ask(p));
        out.push(await ask('/openstack/latest/password', 'from-the-host'));
        console.log(JSON.stringify(out));
      })();`;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile('ip', ['netns', 'exec', nimbus.ns, process.execPath, '-e', script], { timeout: 30000 }, (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out))),
    );
    const answers = JSON.parse(stdout) as { path: string; status: number; text: string }[];
    for (const a of answers) {
      assert.equal(a.status, 404, `${a.path}: ${a.status} ${a.text}`);
      assert.ok(!a.text.includes(id) && !a.text.includes('md-vm'), a.path);
    }
    assert.deepEqual((await request(url, 'GET', `${compute}/servers/${id}/os-server-password`, { token: demo })).body, { password: '' });
  });
});

describe('qemu.metadataService auto on a host that already has a metadata service', { skip }, () => {
  const tag = randomBytes(3).toString('hex');
  const host = `nimbus-mh-${tag}`;
  const cloud = `nimbus-mc-${tag}`;
  let dataDir: string;
  const children: ChildProcess[] = [];
  const teardown = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const ns of [host, cloud]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', teardown);
  after(() => {
    teardown();
    process.removeListener('exit', teardown);
  });

  it('leaves 169.254.169.254 to the cloud the host runs in, and says so', async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'nimbus-mh-'));
    // The "cloud": a namespace whose 169.254.169.254 answers, routed to from the host's namespace
    // (both namespaces of their own: any /30 will do between them).
    const [a, b, c, d] = [10, 232, 255, 252];
    for (const ns of [host, cloud]) {
      ip('netns', 'add', ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    ip('-n', host, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'down0', 'netns', cloud);
    ip('-n', host, 'addr', 'add', `${a}.${b}.${c}.${d + 1}/30`, 'dev', 'up0');
    ip('-n', cloud, 'addr', 'add', `${a}.${b}.${c}.${d + 2}/30`, 'dev', 'down0');
    ip('-n', host, 'link', 'set', 'up0', 'up');
    ip('-n', cloud, 'link', 'set', 'down0', 'up');
    ip('-n', cloud, 'addr', 'add', '169.254.169.254/32', 'dev', 'lo');
    ip('-n', host, 'route', 'add', '169.254.169.254/32', 'via', `${a}.${b}.${c}.${d + 2}`);
    const theirs = spawn('ip', ['netns', 'exec', cloud, process.execPath, '-e', "require('node:net').createServer((s) => s.end()).listen(80, '169.254.169.254', () => console.log('up'))"], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(theirs);
    await new Promise((resolve) => theirs.stdout!.once('data', resolve));

    const config = join(dataDir, 'nimbus.json');
    writeFileSync(config, JSON.stringify({ driver: 'qemu' })); // metadataService: auto, the default
    const env: NodeJS.ProcessEnv = { ...process.env, NIMBUS_LISTEN: '127.0.0.1:8774', NIMBUS_DATA_DIR: join(dataDir, 'data'), NIMBUS_LOG_LEVEL: 'info' };
    delete env.NIMBUS_DATABASE_URL;
    const ours = spawn('ip', ['netns', 'exec', host, process.execPath, join(ROOT, 'dist/src/cli.js'), 'serve', '--config', config], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(ours);
    let output = '';
    ours.stdout!.on('data', (x) => (output += x));
    ours.stderr!.on('data', (x) => (output += x));
    for (let i = 0; !/Nimbus is listening/.test(output); i++) {
      if (ours.exitCode !== null || i > 1200) throw new Error(`nimbus serve did not start:\n${output}`);
      await sleep(100);
    }
    assert.match(output, /not serving 169\.254\.169\.254 \(another metadata service answers/);
    assert.doesNotMatch(output, /metadata service listening/);
    const lo = spawnSync('ip', ['-n', host, '-4', '-o', 'addr', 'show', 'dev', 'lo'], { encoding: 'utf8' }).stdout;
    assert.ok(!lo.includes('169.254.169.254'), lo);
  });
});
