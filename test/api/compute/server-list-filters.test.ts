/**
 * The servers list's filters and pages as Nova reads them, decided in the database's
 * statement (so that they hold at a million servers; bench/list-filters.ts measures that):
 * ip and ip6 as Nova's _ip_filter (re.match over fixed addresses, either filter selecting),
 * a marker's place in any sort order, NULLs as the smallest value on both databases, and
 * each pattern giving the same servers on PostgreSQL as on SQLite.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PG_URL, startCloud, type TestCloud } from '../../support.js';
import { bootServer, setServer, tenant, type Tenant } from './server-fixtures.js';
import { searchPattern } from '../../../src/compute/search-patterns.js';
import { PATTERN_SCAN_TIMEOUT_MS } from '../../../src/compute/servers.js';
import { sql } from 'kysely';

let cloud: TestCloud;
let t: Tenant;

before(async () => {
  cloud = await startCloud();
  t = await tenant(cloud, 'filters');
});
after(async () => cloud.close());

async function list(query: string, token = t.token, version?: string): Promise<{ id: string; name: string }[]> {
  const res = await cloud.req('GET', `/compute/v2.1/servers?${query}`, { token, version });
  assert.equal(res.status, 200, res.text);
  return res.body.servers;
}

/** Nova's network info cache as the build writes it: fixed addresses, and a floating one after its fixed one. */
const fixed = (version: 4 | 6, addr: string) => ({ version, addr, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' });
const floating = (addr: string) => ({ version: 4, addr, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': 'fa:16:3e:00:00:01' });

test('ip matches from the start of a fixed address, as Nova’s re.match: a pattern found only inside it selects nothing', async () => {
  const p = await tenant(cloud, 'ip-start');
  const id = await bootServer(cloud, p.token, { name: 'web' });
  await setServer(cloud, id, { addresses: JSON.stringify({ net: [fixed(4, '10.20.0.5')] }) });
  assert.deepEqual((await list(`ip=${encodeURIComponent('10\\.20\\.')}`, p.token)).map((s) => s.id), [id]);
  assert.deepEqual(await list(`ip=${encodeURIComponent('0\\.20\\.0\\.5')}`, p.token), []);
  assert.deepEqual(await list(`ip=${encodeURIComponent('20\\.0')}`, p.token), []);
});

test('ip and ip6 together select a server that matches either, as Nova’s _ip_filter', async () => {
  const p = await tenant(cloud, 'ip-either');
  const v6 = await bootServer(cloud, p.token, { name: 'six' });
  const v4 = await bootServer(cloud, p.token, { name: 'four' });
  await setServer(cloud, v6, { addresses: JSON.stringify({ net: [fixed(4, '10.30.0.6'), fixed(6, 'fd00:30::6')] }) });
  await setServer(cloud, v4, { addresses: JSON.stringify({ net: [fixed(4, '10.31.0.4')] }) });
  const q = `ip=${encodeURIComponent('^10\\.31\\.')}&ip6=${encodeURIComponent('^fd00:30:')}`;
  assert.deepEqual((await list(q, p.token, '2.5')).map((s) => s.name).sort(), ['four', 'six']);
  // An IPv6 pattern is not tried on IPv4 addresses, nor the other way round.
  assert.deepEqual(await list(`ip=${encodeURIComponent('^fd00')}&ip6=${encodeURIComponent('^10\\.')}`, p.token, '2.5'), []);
});

test('a floating address does not select a server by ip: Nova filters on fixed addresses', async () => {
  const p = await tenant(cloud, 'ip-floating');
  const id = await bootServer(cloud, p.token, { name: 'floats' });
  await setServer(cloud, id, { addresses: JSON.stringify({ net: [fixed(4, '10.40.0.7'), floating('172.24.4.9')] }) });
  assert.deepEqual(await list(`ip=${encodeURIComponent('^172\\.24\\.4\\.9$')}`, p.token), []);
  assert.deepEqual((await list(`ip=${encodeURIComponent('^10\\.40\\.0\\.7$')}`, p.token)).map((s) => s.id), [id]);
});

test('a marker the filters leave out still starts the page right after its place in the sort order', async () => {
  const p = await tenant(cloud, 'marker-place');
  const ids: Record<string, string> = {};
  for (const name of ['1a', '2b', '3a', '4b', '5a']) ids[name] = await bootServer(cloud, p.token, { name });
  for (const name of ['1a', '3a', '5a']) await cloud.services.db.insertInto('server_tags').values({ server_id: ids[name], tag: 'a' }).execute();
  const page = await list(`tags=a&sort_key=display_name&sort_dir=asc&marker=${ids['2b']}`, p.token, '2.26');
  assert.deepEqual(page.map((s) => s.name), ['3a', '5a']);
  const back = await list(`name=a$&sort_key=display_name&sort_dir=desc&marker=${ids['4b']}`, p.token);
  assert.deepEqual(back.map((s) => s.name), ['3a', '1a']);
});

test('a sort key that may be empty orders the servers without one first (ascending) on both databases, and pages across them', async () => {
  const p = await tenant(cloud, 'null-sort');
  const names = ['k1', 'n1', 'k2', 'n2'];
  const ids: Record<string, string> = {};
  for (const name of names) ids[name] = await bootServer(cloud, p.token, { name });
  // key_name as a create with a key sets it (k…); none on n….
  await setServer(cloud, ids.k1, { key_name: 'key-b' });
  await setServer(cloud, ids.k2, { key_name: 'key-a' });
  const byUuid = (a: string, b: string) => (ids[a] < ids[b] ? -1 : 1);
  const nulls = ['n1', 'n2'].sort(byUuid);
  const asc = await list('sort_key=key_name&sort_dir=asc&sort_key=uuid&sort_dir=asc', p.token);
  assert.deepEqual(asc.map((s) => s.name), [...nulls, 'k2', 'k1']);
  const desc = await list('sort_key=key_name&sort_dir=desc&sort_key=uuid&sort_dir=asc', p.token);
  assert.deepEqual(desc.map((s) => s.name), ['k1', 'k2', ...nulls]);
  // One at a time, each page after the last one's marker, through the NULLs and out of them.
  for (const [order, expected] of [
    ['asc', asc],
    ['desc', desc],
  ] as const) {
    const seen: string[] = [];
    let marker = '';
    for (let i = 0; i < 5; i++) {
      const page = await list(`sort_key=key_name&sort_dir=${order}&sort_key=uuid&sort_dir=asc&limit=1${marker ? `&marker=${marker}` : ''}`, p.token);
      if (!page.length) break;
      seen.push(page[0].name);
      marker = page[0].id;
    }
    assert.deepEqual(seen, expected.map((s) => s.name), order);
  }
});

test('a name filter pages through every match in order, a page at a time', async () => {
  const p = await tenant(cloud, 'name-pages');
  for (const name of ['web-1', 'db-1', 'web-2', 'web-3', 'db-2', 'web-4']) await bootServer(cloud, p.token, { name });
  const seen: string[] = [];
  let marker = '';
  for (let i = 0; i < 5; i++) {
    const page = await list(`name=${encodeURIComponent('^web-\\d$')}&sort_key=display_name&sort_dir=asc&limit=2${marker ? `&marker=${marker}` : ''}`, p.token);
    seen.push(...page.map((s) => s.name));
    if (page.length < 2) break;
    marker = page[1].id;
  }
  assert.deepEqual(seen, ['web-1', 'web-2', 'web-3', 'web-4']);
});

/** Names whose matching differs between engines: cases past ASCII, Unicode digits and letters, spaces, the Kelvin sign and long s. */
const NAMES = ['Web-1', 'web-2', 'WEB_3', 'wëb-4', 'WËB-5', 'db-٣', 'db-7', 'a b', 'a\u00a0b', 'kelvin-\u212a', 'long-\u017f', 'sk', 'x.y', 'x-y', '[x]', '{1}', 'Ωmega', 'ωmega', 'tab\ttab'];
const PATTERNS = [
  '^web',
  '(?i)^web',
  '(?i)ËB',
  'ëb',
  '^\\w+-\\d$',
  '\\d$',
  '^db-\\D',
  '\\s',
  '\\S{10,}',
  '(?i)K',
  '(?i)[k]',
  '(?i)S$',
  '(?i)[a-z]+-[^a-z]',
  '[^\\w-]',
  '\\bb\\b',
  'x\\.y',
  'x.y',
  '^\\[x\\]$',
  '\\{1}',
  '^.{4}$',
  '(?i:ω)mega',
  '(?i)ωMEGA',
  '^(?:db|web)-',
  '(?P<w>web)|(?i)^WEB_',
  '\\p{Greek}',
  '\\x{3a9}',
  '\\u03c9',
  'a[ \\xa0]b',
  '\\Aa',
  'b\\Z',
  '^$|^tab\\t',
  'W{,1}eb',
  '[\\d\\s]',
];

test('each pattern selects the same servers on either database: the ones RE2 matches, read as Python does', async () => {
  const p = await tenant(cloud, 'alike');
  const quota = await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${p.projectId}`, { token: cloud.adminToken, body: { quota_set: { instances: -1, cores: -1, ram: -1 } } });
  assert.equal(quota.status, 200, quota.text);
  await bootServer(cloud, p.token, { name: 'x', min_count: NAMES.length, max_count: NAMES.length });
  const made = await list('', p.token);
  assert.equal(made.length, NAMES.length);
  // Names the API would refuse (a tab) or that are awkward to send are set on the rows.
  for (const [i, s] of made.entries()) await setServer(cloud, s.id, { name: NAMES[i] });
  for (const pattern of PATTERNS) {
    const re = searchPattern('name', pattern);
    const expected = NAMES.filter((n) => re.test(n)).sort();
    const got = (await list(`name=${encodeURIComponent(pattern)}`, p.token)).map((s) => s.name).sort();
    assert.deepEqual(got, expected, pattern);
  }
});

test('a pattern-filtered list that PostgreSQL cannot answer within its statement bound is 503 naming the filters', { skip: !PG_URL && 'PostgreSQL only: SQLite matches in batches on the event loop' }, async () => {
  const p = await tenant(cloud, 'bound');
  await bootServer(cloud, p.token, { name: 'held' });
  // The servers table held by another transaction: the list's statement waits, as a long scan would run, until the bound.
  const held = cloud.services.db.transaction().execute(async (tx) => {
    await sql`lock table servers in access exclusive mode`.execute(tx);
    await new Promise((resolve) => setTimeout(resolve, PATTERN_SCAN_TIMEOUT_MS + 1000));
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const res = await cloud.req('GET', `/compute/v2.1/servers?name=^held&ip=${encodeURIComponent('^10\\.')}`, { token: p.token });
  await held;
  assert.equal(res.status, 503, res.text);
  assert.match(res.body.serviceUnavailable.message, /^The list with the name, ip filters took longer than 4 s/);
});
