import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud } from '../../support.js';
import { newImage, patch, upload } from './fixtures.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

const demo = () => cloud.demoToken;

test('replace sets a core attribute and answers 200 with the whole image', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/name', value: 'renamed' }]);
  assert.equal(res.status, 200);
  assert.equal(res.body.name, 'renamed');
  assert.equal(res.body.id, img.id);
  assert.equal(res.body.self, img.self);
});

test('add creates a custom property, flat in the image JSON', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, [{ op: 'add', path: '/hw_rescue_bus', value: 'usb' }]);
  assert.equal(res.status, 200);
  assert.equal(res.body.hw_rescue_bus, 'usb');
  const shown = await cloud.req('GET', `/image/v2/images/${img.id}`, { token: demo() });
  assert.equal(shown.body.hw_rescue_bus, 'usb');
});

test('add on a property that exists replaces its value', async () => {
  const img = await newImage(cloud, demo(), { os_distro: 'debian' });
  const res = await patch(cloud, demo(), img.id, [{ op: 'add', path: '/os_distro', value: 'ubuntu' }]);
  assert.equal(res.body.os_distro, 'ubuntu');
});

test('replace changes a custom property, and replacing one that does not exist is 409', async () => {
  const img = await newImage(cloud, demo(), { os_distro: 'debian' });
  const ok = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/os_distro', value: 'fedora' }]);
  assert.equal(ok.body.os_distro, 'fedora');
  const missing = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/os_version', value: '12' }]);
  assert.equal(missing.status, 409);
  assert.equal(missing.body.error.message, 'Property os_version does not exist.');
});

test('remove deletes a custom property, and removing one that does not exist is 409', async () => {
  const img = await newImage(cloud, demo(), { os_distro: 'debian' });
  const ok = await patch(cloud, demo(), img.id, [{ op: 'remove', path: '/os_distro' }]);
  assert.equal(ok.status, 200);
  assert.ok(!('os_distro' in ok.body));
  const again = await patch(cloud, demo(), img.id, [{ op: 'remove', path: '/os_distro' }]);
  assert.equal(again.status, 409);
});

test('a core attribute may not be removed (403)', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, [{ op: 'remove', path: '/name' }]);
  assert.equal(res.status, 403);
  assert.equal(res.body.error.message, 'Property name may not be removed.');
});

test('a read-only attribute may not be changed (403)', async () => {
  const img = await newImage(cloud, demo());
  for (const path of ['/status', '/checksum', '/id', '/self']) {
    const res = await patch(cloud, demo(), img.id, [{ op: 'replace', path, value: 'x' }]);
    assert.equal(res.status, 403, path);
    assert.equal(res.body.error.message, `Attribute '${path.slice(1)}' is read-only.`);
  }
});

test('operations apply in order and all of them or none', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, [
    { op: 'add', path: '/a', value: '1' },
    { op: 'replace', path: '/a', value: '2' },
    { op: 'replace', path: '/min_ram', value: 256 },
    { op: 'replace', path: '/tags', value: ['x', 'y', 'x'] },
  ]);
  assert.equal(res.status, 200);
  assert.equal(res.body.a, '2');
  assert.equal(res.body.min_ram, 256);
  assert.deepEqual(res.body.tags, ['x', 'y']);
  const failed = await patch(cloud, demo(), img.id, [
    { op: 'replace', path: '/name', value: 'changed' },
    { op: 'remove', path: '/nothing' },
  ]);
  assert.equal(failed.status, 409);
  const shown = await cloud.req('GET', `/image/v2/images/${img.id}`, { token: demo() });
  assert.equal(shown.body.name, 'img');
});

test('updated_at moves forward with a change', async () => {
  const img = await newImage(cloud, demo());
  cloud.clock.advance(2000);
  const res = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/name', value: 'later' }]);
  assert.ok(res.body.updated_at > img.updated_at);
  assert.equal(res.body.created_at, img.created_at);
});

test('a value of the wrong type is 400 naming the field', async () => {
  const img = await newImage(cloud, demo());
  const core = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/min_disk', value: 'ten' }]);
  assert.equal(core.status, 400);
  assert.match(core.body.error.message, /'ten' is not of type 'integer'/);
  assert.match(core.body.error.message, /\['min_disk'\]/);
  const custom = await patch(cloud, demo(), img.id, [{ op: 'add', path: '/cores', value: 2 }]);
  assert.equal(custom.status, 400);
  assert.match(custom.body.error.message, /\['cores'\]/);
  const visibility = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/visibility', value: 'everyone' }]);
  assert.equal(visibility.status, 400);
  assert.match(visibility.body.error.message, /\['visibility'\]/);
});

test('a negative min_ram is 400', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/min_ram', value: -5 }]);
  assert.equal(res.status, 400);
  assert.match(res.body.error.message, /min_ram/);
});

test('disk_format and container_format can only change while the image is queued (403 after)', async () => {
  const img = await newImage(cloud, demo());
  const queued = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/disk_format', value: 'qcow2' }]);
  assert.equal(queued.body.disk_format, 'qcow2');
  await upload(cloud, demo(), img.id, 'data');
  const active = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/disk_format', value: 'raw' }]);
  assert.equal(active.status, 403);
  assert.equal(active.body.error.message, 'Attribute disk_format can be only replaced for a queued image.');
});

test('a patch sent as application/json is 415 with Accept-Patch naming the patch types', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, [{ op: 'replace', path: '/name', value: 'x' }], 'application/json');
  assert.equal(res.status, 415);
  assert.equal(res.headers.get('accept-patch'), 'application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch');
});

test('a body that is not an array of operation objects is 400', async () => {
  const img = await newImage(cloud, demo());
  const object = await patch(cloud, demo(), img.id, { op: 'replace', path: '/name', value: 'x' });
  assert.equal(object.status, 400);
  assert.equal(object.body.error.message, 'Request body must be a JSON array of operation objects.');
  const strings = await patch(cloud, demo(), img.id, ['replace']);
  assert.equal(strings.status, 400);
  assert.equal(strings.body.error.message, 'Operations must be JSON objects.');
});

test('an unknown op, a missing path or value, or a bad pointer is 400', async () => {
  const img = await newImage(cloud, demo());
  const cases: [unknown, RegExp][] = [
    [{ op: 'move', path: '/name', value: 'x' }, /^Invalid operation: `move`/],
    [{ path: '/name', value: 'x' }, /^Unable to find `op`/],
    [{ op: 'replace', value: 'x' }, /^Unable to find 'path'/],
    [{ op: 'replace', path: '/name' }, /requires a member named "value"/],
    [{ op: 'replace', path: 'name', value: 'x' }, /does not start with "\/"/],
    [{ op: 'add', path: '/tags/-', value: 'x' }, /^Invalid JSON pointer for this resource/],
  ];
  for (const [op, message] of cases) {
    const res = await patch(cloud, demo(), img.id, [op]);
    assert.equal(res.status, 400, JSON.stringify(op));
    assert.match(res.body.error.message, message);
  }
});

test('an op or path of the wrong JSON type is named the Python way in the 400', async () => {
  const img = await newImage(cloud, demo());
  const op = await patch(cloud, demo(), img.id, [{ op: {}, path: '/name', value: 'x' }]);
  assert.equal(op.status, 400);
  assert.equal(op.body.error.message, 'Invalid operation: `{}`. It must be one of the following: add, remove, replace.');
  const path = await patch(cloud, demo(), img.id, [{ op: 'replace', path: { a: [1, true] }, value: 'x' }]);
  assert.equal(path.status, 400);
  assert.equal(path.body.error.message, "Pointer `{'a': [1, True]}` does not start with \"/\".");
});

test('a pointer decodes ~1 and ~0 into a property name', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, [{ op: 'add', path: '/a~1b~0c', value: 'v' }]);
  assert.equal(res.body['a/b~c'], 'v');
});

test('the v2.0 patch media type takes draft-4 operations and refuses add on a present attribute', async () => {
  const img = await newImage(cloud, demo());
  const v20 = 'application/openstack-images-v2.0-json-patch';
  const ok = await patch(cloud, demo(), img.id, [{ add: '/os_distro', value: 'arch' }, { replace: '/name', value: 'old-style' }], v20);
  assert.equal(ok.status, 200);
  assert.equal(ok.body.os_distro, 'arch');
  assert.equal(ok.body.name, 'old-style');
  const present = await patch(cloud, demo(), img.id, [{ add: '/os_distro', value: 'again' }], v20);
  assert.equal(present.status, 409);
});

test('an empty patch changes nothing and answers the image', async () => {
  const img = await newImage(cloud, demo());
  const res = await patch(cloud, demo(), img.id, []);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, img);
});

test('patching an unknown image is 404', async () => {
  const res = await patch(cloud, demo(), '0f9c8a2e-0000-4000-8000-000000000000', [{ op: 'replace', path: '/name', value: 'x' }]);
  assert.equal(res.status, 404);
});

test('concurrent patches each land: none overwrites another', async () => {
  const img = await newImage(cloud, demo());
  const results = await Promise.all(
    Array.from({ length: 8 }, (_, i) => patch(cloud, demo(), img.id, [{ op: 'add', path: `/p${i}`, value: String(i) }])),
  );
  for (const r of results) assert.equal(r.status, 200);
  const shown = await cloud.req('GET', `/image/v2/images/${img.id}`, { token: demo() });
  for (let i = 0; i < 8; i++) assert.equal(shown.body[`p${i}`], String(i));
});
