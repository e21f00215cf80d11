import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCloud, type TestCloud, type RequestOptions } from '../../support.js';
import { fault, memberOfProject } from './accounts.js';

let cloud: TestCloud;
let member: { token: string; projectId: string };
let serial = 0;
before(async () => {
  cloud = await startCloud();
  member = await memberOfProject(cloud, 'spec-reader');
});
after(async () => cloud.close());

/** A fresh public flavor for each test. */
async function newFlavor(extra: Record<string, unknown> = {}): Promise<string> {
  const res = await cloud.req('POST', '/compute/v2.1/flavors', { token: cloud.adminToken, body: { flavor: { name: `spec-${++serial}`, ram: 128, vcpus: 1, disk: 1, ...extra } } });
  assert.equal(res.status, 200, res.text);
  return res.body.flavor.id;
}
const specs = (id: string) => `/compute/v2.1/flavors/${id}/os-extra_specs`;
const admin = (opts: RequestOptions = {}): RequestOptions => ({ token: cloud.adminToken, ...opts });

test('POST sets extra specs and answers with the request body', async () => {
  const id = await newFlavor();
  const res = await cloud.req('POST', specs(id), admin({ body: { extra_specs: { 'hw:cpu_policy': 'dedicated', 'custom:key': 'x' } } }));
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { extra_specs: { 'hw:cpu_policy': 'dedicated', 'custom:key': 'x' } });
  const list = await cloud.req('GET', specs(id), admin());
  assert.equal(list.status, 200);
  assert.deepEqual(list.body, { extra_specs: { 'custom:key': 'x', 'hw:cpu_policy': 'dedicated' } });
});

test('POST adds to the extra specs already set and replaces a key set again', async () => {
  const id = await newFlavor();
  await cloud.req('POST', specs(id), admin({ body: { extra_specs: { a: '1', b: '2' } } }));
  await cloud.req('POST', specs(id), admin({ body: { extra_specs: { b: 'two', c: '3' } } }));
  assert.deepEqual((await cloud.req('GET', specs(id), admin())).body, { extra_specs: { a: '1', b: 'two', c: '3' } });
});

test('a number value is echoed as a number and stored as a string', async () => {
  const id = await newFlavor();
  const res = await cloud.req('POST', specs(id), admin({ body: { extra_specs: { 'hw:numa_nodes': 2, ratio: 1.5 } } }));
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { extra_specs: { 'hw:numa_nodes': 2, ratio: 1.5 } });
  assert.deepEqual((await cloud.req('GET', specs(id), admin())).body, { extra_specs: { 'hw:numa_nodes': '2', ratio: '1.5' } });
});

test('GET of one key answers {key: value}, and 404 for a key not set', async () => {
  const id = await newFlavor();
  await cloud.req('POST', specs(id), admin({ body: { extra_specs: { 'hw:mem_page_size': 'large' } } }));
  const res = await cloud.req('GET', `${specs(id)}/hw:mem_page_size`, admin());
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { 'hw:mem_page_size': 'large' });
  const missing = await cloud.req('GET', `${specs(id)}/nope`, admin());
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, { itemNotFound: { code: 404, message: `Flavor ${id} has no extra specs with key nope.` } });
});

test('PUT of one key sets it and answers with the body', async () => {
  const id = await newFlavor();
  const res = await cloud.req('PUT', `${specs(id)}/hw:cpu_policy`, admin({ body: { 'hw:cpu_policy': 'shared' } }));
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { 'hw:cpu_policy': 'shared' });
  assert.deepEqual((await cloud.req('GET', `${specs(id)}/hw:cpu_policy`, admin())).body, { 'hw:cpu_policy': 'shared' });
});

test('PUT whose body names another key is 400 "Request body and URI mismatch"', async () => {
  const id = await newFlavor();
  const res = await cloud.req('PUT', `${specs(id)}/a`, admin({ body: { b: '1' } }));
  assert.equal(res.status, 400);
  assert.deepEqual(res.body, { badRequest: { code: 400, message: 'Request body and URI mismatch' } });
});

test('PUT with no key or more than one is 400', async () => {
  const id = await newFlavor();
  const two = await cloud.req('PUT', `${specs(id)}/a`, admin({ body: { a: '1', b: '2' } }));
  assert.equal(two.status, 400);
  assert.equal(fault(two.body).message, "{'a': '1', 'b': '2'} has too many properties");
  const none = await cloud.req('PUT', `${specs(id)}/a`, admin({ body: {} }));
  assert.equal(none.status, 400);
  assert.equal(fault(none.body).message, '{} does not have enough properties');
});

test('DELETE of one key is 200 with no body; deleting it again is 404', async () => {
  const id = await newFlavor();
  await cloud.req('POST', specs(id), admin({ body: { extra_specs: { a: '1', b: '2' } } }));
  const res = await cloud.req('DELETE', `${specs(id)}/a`, admin());
  assert.equal(res.status, 200);
  assert.equal(res.text, '');
  assert.deepEqual((await cloud.req('GET', specs(id), admin())).body, { extra_specs: { b: '2' } });
  const again = await cloud.req('DELETE', `${specs(id)}/a`, admin());
  assert.equal(again.status, 404);
  assert.equal(fault(again.body).message, `Flavor ${id} has no extra specs with key a.`);
});

test('extra specs of an unknown flavor are 404 on every route', async () => {
  for (const [method, path, body] of [
    ['GET', specs('nope'), undefined],
    ['POST', specs('nope'), { extra_specs: { a: '1' } }],
    ['GET', `${specs('nope')}/a`, undefined],
    ['PUT', `${specs('nope')}/a`, { a: '1' }],
    ['DELETE', `${specs('nope')}/a`, undefined],
  ] as const) {
    const res = await cloud.req(method, path, admin({ body }));
    assert.equal(res.status, 404, `${method} ${path}`);
    assert.equal(fault(res.body).message, 'Flavor nope could not be found.');
  }
});

test('a key with characters outside Nova’s set is 400', async () => {
  const id = await newFlavor();
  const res = await cloud.req('POST', specs(id), admin({ body: { extra_specs: { 'a/b': '1' } } }));
  assert.equal(res.status, 400);
  assert.equal(fault(res.body).message, "Invalid input for field/attribute extra_specs. Value: {'a/b': '1'}. 'a/b' does not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'");
});

test('a value that is neither a string nor a number, or longer than 255 characters, is 400', async () => {
  const id = await newFlavor();
  const bool = await cloud.req('POST', specs(id), admin({ body: { extra_specs: { a: true } } }));
  assert.equal(bool.status, 400);
  assert.equal(fault(bool.body).message, "Invalid input for field/attribute a. Value: True. True is not of type 'string', 'number'");
  const long = await cloud.req('POST', specs(id), admin({ body: { extra_specs: { a: 'v'.repeat(256) } } }));
  assert.equal(long.status, 400);
  assert.match(fault(long.body).message, /^Invalid input for field\/attribute a\. .* is too long$/);
});

test('a body without extra_specs, or with something else beside it, is 400', async () => {
  const id = await newFlavor();
  const missing = await cloud.req('POST', specs(id), admin({ body: { specs: {} } }));
  assert.equal(missing.status, 400);
  const notObject = await cloud.req('POST', specs(id), admin({ body: { extra_specs: [] } }));
  assert.equal(notObject.status, 400);
  assert.equal(fault(notObject.body).message, "Invalid input for field/attribute extra_specs. Value: []. [] is not of type 'object'");
});

test('before 2.86 any value goes, even for keys Nova knows', async () => {
  const id = await newFlavor();
  const res = await cloud.req('POST', specs(id), admin({ version: '2.85', body: { extra_specs: { 'hw:numa_nodes': 'zero', 'hw:bogus': 'x' } } }));
  assert.equal(res.status, 200);
});

test('from 2.86 a known extra spec must have a valid value', async () => {
  const id = await newFlavor();
  const post = (extra_specs: Record<string, unknown>) => cloud.req('POST', specs(id), admin({ version: '2.86', body: { extra_specs } }));
  for (const [key, value, message] of [
    ['hw:numa_nodes', '0', "Validation failed; '0' is less than the min value of '1'."],
    ['hw:numa_nodes', 'two', "Validation failed; 'two' is not a valid integer value."],
    ['hw:cpu_policy', 'greedy', "Validation failed; 'greedy' is not one of: dedicated, shared, mixed."],
    ['hw:mem_page_size', 'huge', "Validation failed; 'huge' is not of the format '(large|small|any|\\d+([kKMGT]i?)?(b|bit|B)?)'."],
    ['hw:cpu_realtime', 'perhaps', "Validation failed; 'perhaps' is not a valid boolean-like value."],
    ['os:monitors', '9', "Validation failed; '9' is greater than the max value of '8'."],
    ['trait:HW_CPU_X86_AVX', 'wanted', "Validation failed; 'wanted' is not one of: required, forbidden."],
  ] as const) {
    const res = await post({ [key]: value });
    assert.equal(res.status, 400, `${key}=${value}`);
    assert.deepEqual(res.body, { badRequest: { code: 400, message } });
  }
  const ok = await post({ 'hw:numa_nodes': 2, 'hw:numa_cpus.0': '0-1', 'hw:numa_mem.0': '512', 'hw:cpu_policy': 'dedicated', 'trait:CUSTOM_GPU': 'required', 'resources:VCPU': '2' });
  assert.equal(ok.status, 200, ok.text);
});

test('from 2.86 an unknown key in a namespace Nova owns is 400, and one in any other namespace is fine', async () => {
  const id = await newFlavor();
  const bogus = await cloud.req('POST', specs(id), admin({ version: '2.86', body: { extra_specs: { 'hw:bogus': '1' } } }));
  assert.equal(bogus.status, 400);
  assert.equal(fault(bogus.body).message, "Validation failed; extra spec 'hw:bogus' does not appear to be a valid extra spec.");
  const mine = await cloud.req('POST', specs(id), admin({ version: '2.86', body: { extra_specs: { 'acme:tier': 'gold', plain: 'x' } } }));
  assert.equal(mine.status, 200);
});

test('from 2.86 PUT of one key is validated too', async () => {
  const id = await newFlavor();
  const res = await cloud.req('PUT', `${specs(id)}/hw:numa_nodes`, admin({ version: '2.86', body: { 'hw:numa_nodes': '0' } }));
  assert.equal(res.status, 400);
  assert.equal(fault(res.body).message, "Validation failed; '0' is less than the min value of '1'.");
});

test('a member may read extra specs', async () => {
  const id = await newFlavor();
  await cloud.req('POST', specs(id), admin({ body: { extra_specs: { a: '1' } } }));
  assert.deepEqual((await cloud.req('GET', specs(id), { token: member.token })).body, { extra_specs: { a: '1' } });
  assert.deepEqual((await cloud.req('GET', `${specs(id)}/a`, { token: member.token })).body, { a: '1' });
  const flavor = await cloud.req('GET', `/compute/v2.1/flavors/${id}`, { token: member.token, version: '2.61' });
  assert.deepEqual(flavor.body.flavor.extra_specs, { a: '1' });
});

test('a member gets 403 setting, updating or deleting extra specs', async () => {
  const id = await newFlavor();
  await cloud.req('POST', specs(id), admin({ body: { extra_specs: { a: '1' } } }));
  for (const [method, path, body, rule] of [
    ['POST', specs(id), { extra_specs: { a: '2' } }, 'create'],
    ['PUT', `${specs(id)}/a`, { a: '2' }, 'update'],
    ['DELETE', `${specs(id)}/a`, undefined, 'delete'],
  ] as const) {
    const res = await cloud.req(method, path, { token: member.token, body });
    assert.equal(res.status, 403, `${method} ${path}`);
    assert.deepEqual(res.body, { forbidden: { code: 403, message: `Policy doesn't allow os_compute_api:os-flavor-extra-specs:${rule} to be performed.` } });
  }
  assert.deepEqual((await cloud.req('GET', specs(id), admin())).body, { extra_specs: { a: '1' } });
});

test('the extra specs of a private flavor are 404 to a project without access', async () => {
  const id = await newFlavor({ 'os-flavor-access:is_public': false });
  const res = await cloud.req('GET', specs(id), { token: member.token });
  assert.equal(res.status, 404);
});

test('detail lists embed each flavor’s extra specs from 2.61', async () => {
  const id = await newFlavor();
  await cloud.req('POST', specs(id), admin({ body: { extra_specs: { 'hw:cpu_policy': 'shared' } } }));
  const res = await cloud.req('GET', '/compute/v2.1/flavors/detail', admin({ version: '2.61' }));
  const listed = res.body.flavors.find((f: { id: string }) => f.id === id);
  assert.deepEqual(listed.extra_specs, { 'hw:cpu_policy': 'shared' });
});
