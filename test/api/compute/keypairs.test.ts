import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { startCloud, memberOfNewProject, type TestCloud } from '../../support.js';

let cloud: TestCloud;
before(async () => (cloud = await startCloud()));
after(async () => cloud.close());

// Keys made with ssh-keygen; fingerprints as `ssh-keygen -l -E md5` prints them.
const RSA_KEY =
  'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCvEeprXEX9MWFEuaEkmTeiHiT9moXf35MACp72GSLGIOm+Ru+GoinN4LAq3jNXJMpapNn63l3mh6c/BoyNCfQXmIsmn2D/EbkWVTfYK2H1xdbsS3fZ+m/wKKoDBF/p2irx5+IEaUYrDOg9xqZDZk2LNbims0P9p2FIDW8SsHH+01Iwk6dbt0SfpAWg4lpkzEvEG6SpycrZSGzlFjBHCZak1lzdkGuGnpHfRaAiy0M3+kPcNI37h6vzht9L0ZeyPRXgyLJ6ITudq7qUSL0Di767/XJWBNMYOM0FpOdxIDfRtW9IonjJK2CzFoCoQga4u6LNACV8jecHHF/kWEKTntCH root@vm';
const RSA_FP = 'de:2b:8e:b3:b1:ad:0d:27:8c:ea:8d:89:65:84:90:4b';
const ED25519_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9126EtuKT4e273qrRKRxuC1PFZK8MqpWGhTTEvLJZq root@vm';
const ED25519_FP = '84:cd:d1:5b:50:7c:8f:8e:d2:57:a6:36:8c:25:7e:b8';
const ECDSA521_KEY =
  'ecdsa-sha2-nistp521 AAAAE2VjZHNhLXNoYTItbmlzdHA1MjEAAAAIbmlzdHA1MjEAAACFBAADNXtggCwlPtRsUZ7qEwCyNoWePAFx81XBm1MqK/ksAJpQtm0a4vXLY48cmOMNLesNSH7dyHHXXd6HZGKnJ6Y9mAARmYHoQxVdDb11rOCb9vb4qiOqaKrzF7lDQFcUMJK/SiQPqxZoobnsMzFcG1/CKtkVL4a15jLCRjwVXDBUg7vr3w== root@vm';
const ECDSA521_FP = 'eb:f4:cc:0c:cb:e9:a3:f6:b4:8d:98:02:b3:9e:8b:1b';
const DSA_KEY =
  'ssh-dss AAAAB3NzaC1kc3MAAACBAIlKP9H4oN3qFGuA4rxgJ/qL7wtfDgxxN/a4N0RGAfB9uUlFXNGFFJWPFf+g3I6sF7kW0h/dhJLaNgzM9SV8YmYe+gOodNCv9BsyrSh8q7qq2+y2Z0mp8ZM594qSjosfqKECjcekbTwU2BB12BbzKiV3v6Aio6qcJGGLEc44BzHRAAAAFQCfJVaewujAYI266jSVf6n1uWBoFQAAAIBvYmk8FAwcAL0/hjnJjzsAFyt8F+SsJD2S33bLVVMflmrGbm+0gXjWT1Qw36V6B50+DtIzNeMnvjCgbB9N+uCMU4L8i9b8ziwVyKK8CO+yg8KxNbzhUZi5Gh3HVXb/4DW8H72IAu39+fhzAktvg1OpvarOWde04GnK+4oc97n6egAAAIB0DhhkAVS2Xzihch+qkCMVcknSf/z41VyWcFeKXapNeb4zVFfjayO1JDcfGWWkzKAqf3iHKIS9gwnVTAqZ+P4e/fUOEEqLbDzqn1qu1NAN5A+Immv6QzSyVw9DvnduCHLeP9SgEImQ3/2RO3/H634sff64TJKKsJ7/2fWY7kPZcw== root@vm';
const DSA_FP = '2d:68:08:d2:bc:6a:b4:53:57:37:6e:b1:fb:aa:c2:00';
/** A P-256 key with the last byte of its point changed: well-formed, but not on the curve. */
const OFF_CURVE_KEY =
  'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBosnLfhprLKjQCJoqLLz9AWJIuvmyXN+K0ScpO4ez54LM4ueNvkg+QbH0ZfMjofXJ7Gm0oKaBjH6+gDToqy3xw=';
const CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIBhDCCASmgAwIBAgIUFSS+gyn+fdnUYJQjb8ITPR+TYfIwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLbmltYnVzLXRlc3QwIBcNMjYxMTIzMTE1NjE0WhgPMjEyNjEw
MzAxMTU2MTRaMBYxFDASBgNVBAMMC25pbWJ1cy10ZXN0MFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEt0siv6RqLn6O63uPtPFRe0AVWrMMrltUnav8ez9WiAEdXbQa
OoSTxdshn6/Mr2a3xhgPZ8puAzM6NDGI1k3WbaNTMFEwHQYDVR0OBBYEFNsnx0wD
Z/QbgauB5KKOWLpK/NTOMB8GA1UdIwQYMBaAFNsnx0wDZ/QbgauB5KKOWLpK/NTO
MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSQAwRgIhAJ67cNgrSGy0XqZH
GosIEdospPb/E96+He8uLf/a9aXZAiEA1jtznTtbvfQk03lpqdl+xYjeUHwpIerm
4RLtmu8RYcQ=
-----END CERTIFICATE-----
`;
const CERTIFICATE_FP = '52:61:3a:18:f9:da:91:5f:99:96:bd:d9:17:a9:3f:28:5e:d9:fe:34';

const KP = '/compute/v2.1/os-keypairs';
let seq = 0;
const uniqueName = (prefix = 'kp') => `${prefix}-${++seq}`;

function create(token: string, keypair: Record<string, unknown>, version?: string) {
  return cloud.req('POST', KP, { token, version, body: { keypair } });
}

/** A user of their own (in a project of their own), so list tests see only their keys. */
async function freshUser(name: string) {
  return memberOfNewProject(cloud, name);
}

/** The md5 fingerprint Nova computes for an ssh-rsa line. */
const md5Fingerprint = (line: string) =>
  createHash('md5').update(Buffer.from(line.split(' ')[1], 'base64')).digest('hex').match(/../g)!.join(':');

test('generating a keypair at 2.1 answers 200 with the private key once, and no type', async () => {
  const name = uniqueName();
  const res = await create(cloud.demoToken, { name });
  assert.equal(res.status, 200);
  const kp = res.body.keypair;
  assert.deepEqual(Object.keys(kp), ['private_key', 'name', 'public_key', 'fingerprint', 'user_id']);
  assert.equal(kp.name, name);
  assert.match(kp.private_key, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  assert.match(kp.public_key, /^ssh-rsa AAAAB3NzaC1yc2E\S+ Generated-by-Nova$/);
  assert.equal(kp.fingerprint, md5Fingerprint(kp.public_key));
  const shown = await cloud.req('GET', `${KP}/${name}`, { token: cloud.demoToken });
  assert.equal(shown.body.keypair.public_key, kp.public_key);
  assert.equal(shown.body.keypair.private_key, undefined);
});

test('from 2.2 creating a keypair answers 201 with type ssh by default', async () => {
  const res = await create(cloud.demoToken, { name: uniqueName() }, '2.2');
  assert.equal(res.status, 201);
  assert.deepEqual(Object.keys(res.body.keypair), ['private_key', 'type', 'name', 'public_key', 'fingerprint', 'user_id']);
  assert.equal(res.body.keypair.type, 'ssh');
});

test('an imported OpenSSH key keeps its text and gets Nova\'s MD5 fingerprint', async () => {
  for (const [key, fp] of [
    [RSA_KEY, RSA_FP],
    [ED25519_KEY, ED25519_FP],
    [ECDSA521_KEY, ECDSA521_FP],
    [DSA_KEY, DSA_FP],
  ]) {
    const res = await create(cloud.demoToken, { name: uniqueName(), public_key: key }, '2.2');
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(Object.keys(res.body.keypair), ['type', 'name', 'public_key', 'fingerprint', 'user_id']);
    assert.equal(res.body.keypair.public_key, key);
    assert.equal(res.body.keypair.fingerprint, fp);
  }
});

test('an OpenSSH certificate is imported with the MD5 of its whole blob, as Nova fingerprints it', async () => {
  // ssh-keygen -s ca -I id u.pub: an ed25519 user certificate.
  const cert =
    'ssh-ed25519-cert-v01@openssh.com AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIG4BnqGoVvZCXgpTbqttR7rSnnoIvQgVAPDW/BiBs9YRAAAAIO8GQjVZQfXAkfmlEpm6in4i3s3LwM7oCBsC+JDBzb+VAAAAAAAAAAAAAAABAAAAAmlkAAAAAAAAAABpVbkAAAAAAPSGVwAAAAAAAAAAggAAABVwZXJtaXQtWDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAAAAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAAAAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAAACDuXKR6suzUNxDtC8cprhFokjRNkKTCarfcU83cWzJWOwAAAFMAAAALc3NoLWVkMjU1MTkAAABAOgXU+f78XOpj7lpCIcgoiBGen5oujDrvoNqykWALnVcnLy/ANeacdc8yTqTZb/wM8jdUkCnYemQYU8yfzGLXDQ== root@vm';
  const res = await create(cloud.demoToken, { name: uniqueName(), public_key: cert }, '2.2');
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.keypair.fingerprint, 'b0:80:57:c1:40:08:8d:b0:57:1f:81:6c:29:cd:3d:17');
});

test('an invalid ssh public key is 400 "failed to generate fingerprint"', async () => {
  // Tempest's junk keys, an empty one, and a key whose point is off its curve.
  for (const key of ['ssh-rsa JUNK nova@ubuntu', 'ssh-rsa ' + 'A'.repeat(2048) + ' openstack@ubuntu', ' ', '', OFF_CURVE_KEY, 'ssh-foo AAAA']) {
    const res = await create(cloud.demoToken, { name: uniqueName(), public_key: key });
    assert.equal(res.status, 400, key);
    assert.deepEqual(res.body, { badRequest: { code: 400, message: 'Keypair data is invalid: failed to generate fingerprint' } });
  }
});

test('a public key whose type is a built-in name (toString, constructor, __proto__) is as invalid as any unknown type', async () => {
  for (const type of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    const res = await create(cloud.demoToken, { name: uniqueName(), public_key: `${type} AAAAB3NzaC1yc2EAAAADAQABAAABAQCvEeprXEX9 x@y` });
    assert.equal(res.status, 400, type);
    assert.deepEqual(res.body, { badRequest: { code: 400, message: 'Keypair data is invalid: failed to generate fingerprint' } });
  }
});

test('from 2.2 an x509 certificate is imported with its SHA-1 fingerprint', async () => {
  const name = uniqueName();
  const res = await create(cloud.demoToken, { name, type: 'x509', public_key: CERTIFICATE }, '2.2');
  assert.equal(res.status, 201, res.text);
  assert.equal(res.body.keypair.type, 'x509');
  assert.equal(res.body.keypair.fingerprint, CERTIFICATE_FP);
  const shown = await cloud.req('GET', `${KP}/${name}`, { token: cloud.demoToken, version: '2.2' });
  assert.equal(shown.body.keypair.type, 'x509');
});

test('an invalid x509 certificate is 400 naming the X509 fingerprint', async () => {
  const res = await create(cloud.demoToken, { name: uniqueName(), type: 'x509', public_key: 'junk' }, '2.2');
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /^Keypair data is invalid: failed to generate X509 fingerprint\. Error message: /);
  const ssh = await create(cloud.demoToken, { name: uniqueName(), type: 'x509', public_key: RSA_KEY }, '2.2');
  assert.equal(ssh.status, 400);
});

test('a generated x509 keypair has a client certificate for the user and a PKCS#12 private key', async () => {
  const res = await create(cloud.demoToken, { name: uniqueName(), type: 'x509' }, '2.2');
  assert.equal(res.status, 201, res.text);
  const kp = res.body.keypair;
  const cert = new X509Certificate(kp.public_key);
  assert.equal(cert.subject, `CN=${kp.user_id}`);
  assert.equal(kp.fingerprint, cert.fingerprint.toLowerCase());
  // PKCS#12 is DER: a SEQUENCE whose first element is version 3.
  const p12 = Buffer.from(kp.private_key, 'base64');
  assert.equal(p12[0], 0x30);
});

test('type is refused before 2.2 and must be ssh or x509 after', async () => {
  const early = await create(cloud.demoToken, { name: 'typed', type: 'ssh' });
  assert.equal(early.status, 400);
  assert.equal(
    early.body.badRequest.message,
    "Invalid input for field/attribute keypair. Value: {'name': 'typed', 'type': 'ssh'}. Additional properties are not allowed ('type' was unexpected)",
  );
  const wrong = await create(cloud.demoToken, { name: 'typed', type: 'pgp' }, '2.2');
  assert.equal(wrong.status, 400);
  assert.equal(wrong.body.badRequest.message, "Invalid input for field/attribute type. Value: pgp. 'pgp' is not one of ['ssh', 'x509']");
});

test('from 2.92 keys are no longer generated: public_key is required', async () => {
  const res = await create(cloud.demoToken, { name: uniqueName() }, '2.92');
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /^Invalid input for field\/attribute keypair\. .*'public_key' is a required property$/);
  const imported = await create(cloud.demoToken, { name: uniqueName(), public_key: ED25519_KEY }, '2.92');
  assert.equal(imported.status, 201);
  assert.equal(imported.body.keypair.private_key, undefined);
});

test('a keypair name must be 1 to 255 characters', async () => {
  const empty = await create(cloud.demoToken, { name: '' });
  assert.equal(empty.status, 400);
  assert.equal(empty.body.badRequest.message, "Invalid input for field/attribute name. Value: . '' is too short");
  const long = await create(cloud.demoToken, { name: 'k'.repeat(256) });
  assert.equal(long.status, 400);
  assert.match(long.body.badRequest.message, /^Invalid input for field\/attribute name\. .* is too long$/);
  const max = await create(cloud.demoToken, { name: 'k'.repeat(255), public_key: ED25519_KEY });
  assert.equal(max.status, 200);
  const missing = await cloud.req('POST', KP, { token: cloud.demoToken, body: { keypair: {} } });
  assert.equal(missing.body.badRequest.message, "Invalid input for field/attribute keypair. Value: {}. 'name' is a required property");
});

test('a keypair with a name of 255 characters can be shown and deleted by that name', async () => {
  const name = `long-${'k'.repeat(250)}`;
  assert.equal((await create(cloud.demoToken, { name, public_key: ED25519_KEY }, '2.2')).status, 201);
  const shown = await cloud.req('GET', `${KP}/${name}`, { token: cloud.demoToken });
  assert.equal(shown.status, 200, shown.text);
  assert.equal(shown.body.keypair.name, name);
  assert.equal((await cloud.req('DELETE', `${KP}/${name}`, { token: cloud.demoToken, version: '2.2' })).status, 204);
});

test('a keypair name has only Nova\'s safe characters, and no leading or trailing space', async () => {
  const bad = await create(cloud.demoToken, { name: 'my.key' });
  assert.equal(bad.status, 400);
  assert.equal(
    bad.body.badRequest.message,
    "An invalid 'name' value was provided. The name must be: Only expected characters: [_- 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ]",
  );
  const spaced = await create(cloud.demoToken, { name: ' key' });
  assert.equal(spaced.status, 400);
  assert.equal(spaced.body.badRequest.message, "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.");
  const control = await create(cloud.demoToken, { name: 'a\u0007b' });
  assert.equal(control.status, 400);
  const number = await create(cloud.demoToken, { name: 5 });
  assert.equal(number.body.badRequest.message, "Invalid input for field/attribute name. Value: 5. 5 is not of type 'string'");
  // 2.92 adds '@' and '.'.
  const modern = await create(cloud.demoToken, { name: 'me@host.example', public_key: ED25519_KEY }, '2.92');
  assert.equal(modern.status, 201);
  const inner = await create(cloud.demoToken, { name: 'with inner space', public_key: ED25519_KEY });
  assert.equal(inner.status, 200);
  const shown = await cloud.req('GET', `${KP}/with%20inner%20space`, { token: cloud.demoToken });
  assert.equal(shown.status, 200);
});

test('a duplicate name for the same user is 409', async () => {
  const name = uniqueName();
  assert.equal((await create(cloud.demoToken, { name, public_key: RSA_KEY })).status, 200);
  const again = await create(cloud.demoToken, { name });
  assert.equal(again.status, 409);
  assert.deepEqual(again.body, { conflictingRequest: { code: 409, message: `Key pair '${name}' already exists.` } });
});

test('the list shows name, public_key and fingerprint by name, and type from 2.2', async () => {
  const user = await freshUser('kp-lister');
  await create(user.token, { name: 'b-key', public_key: RSA_KEY });
  await create(user.token, { name: 'a-key', public_key: ED25519_KEY });
  const v21 = await cloud.req('GET', KP, { token: user.token });
  assert.equal(v21.status, 200);
  assert.deepEqual(v21.body, {
    keypairs: [
      { keypair: { name: 'a-key', public_key: ED25519_KEY, fingerprint: ED25519_FP } },
      { keypair: { name: 'b-key', public_key: RSA_KEY, fingerprint: RSA_FP } },
    ],
  });
  const v22 = await cloud.req('GET', KP, { token: user.token, version: '2.2' });
  assert.deepEqual(v22.body.keypairs[0].keypair, { name: 'a-key', public_key: ED25519_KEY, fingerprint: ED25519_FP, type: 'ssh' });
});

test('show has the id, owner, times and deleted flag; type from 2.2', async () => {
  const name = uniqueName();
  await create(cloud.demoToken, { name, public_key: RSA_KEY });
  const res = await cloud.req('GET', `${KP}/${name}`, { token: cloud.demoToken });
  assert.equal(res.status, 200);
  const kp = res.body.keypair;
  assert.deepEqual(Object.keys(kp), ['name', 'public_key', 'fingerprint', 'user_id', 'created_at', 'deleted', 'deleted_at', 'id', 'updated_at']);
  assert.equal(typeof kp.id, 'number');
  assert.equal(kp.deleted, false);
  assert.equal(kp.deleted_at, null);
  assert.equal(kp.updated_at, null);
  assert.match(kp.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
  const v22 = await cloud.req('GET', `${KP}/${name}`, { token: cloud.demoToken, version: '2.2' });
  assert.equal(v22.body.keypair.type, 'ssh');
});

test('an unknown keypair is 404 naming the keypair and user', async () => {
  const res = await cloud.req('GET', `${KP}/nope`, { token: cloud.demoToken });
  assert.equal(res.status, 404);
  assert.match(res.body.itemNotFound.message, /^Keypair nope not found for user [0-9a-f]+$/);
  const del = await cloud.req('DELETE', `${KP}/nope`, { token: cloud.demoToken, version: '2.2' });
  assert.equal(del.status, 404);
});

test('delete answers 202 at 2.1 and 204 from 2.2, with an empty body', async () => {
  const a = uniqueName();
  const b = uniqueName();
  await create(cloud.demoToken, { name: a, public_key: RSA_KEY });
  await create(cloud.demoToken, { name: b, public_key: RSA_KEY });
  const old = await cloud.req('DELETE', `${KP}/${a}`, { token: cloud.demoToken });
  assert.equal(old.status, 202);
  assert.equal(old.text, '');
  const modern = await cloud.req('DELETE', `${KP}/${b}`, { token: cloud.demoToken, version: '2.2' });
  assert.equal(modern.status, 204);
  assert.equal((await cloud.req('GET', `${KP}/${a}`, { token: cloud.demoToken })).status, 404);
});

test('keypairs are per user: another user neither sees nor deletes them', async () => {
  const owner = await freshUser('kp-owner');
  const other = await freshUser('kp-other');
  await create(owner.token, { name: 'private', public_key: RSA_KEY });
  assert.deepEqual((await cloud.req('GET', KP, { token: other.token })).body, { keypairs: [] });
  assert.equal((await cloud.req('GET', `${KP}/private`, { token: other.token })).status, 404);
  assert.equal((await cloud.req('DELETE', `${KP}/private`, { token: other.token })).status, 404);
  // Another user may use the same name.
  assert.equal((await create(other.token, { name: 'private', public_key: ED25519_KEY })).status, 200);
  assert.equal((await cloud.req('GET', `${KP}/private`, { token: owner.token })).body.keypair.fingerprint, RSA_FP);
});

test('from 2.35 limit and marker page the list, with a next link while pages are full', async () => {
  const user = await freshUser('kp-pager');
  for (const n of ['k1', 'k2', 'k3']) await create(user.token, { name: n, public_key: RSA_KEY });
  const first = await cloud.req('GET', `${KP}?limit=2`, { token: user.token, version: '2.35' });
  assert.equal(first.status, 200);
  assert.deepEqual(first.body.keypairs.map((k: any) => k.keypair.name), ['k1', 'k2']);
  assert.deepEqual(first.body.keypairs_links, [{ rel: 'next', href: `${cloud.url}/compute/v2.1/os-keypairs?limit=2&marker=k2` }]);
  const second = await cloud.req('GET', `${KP}?limit=2&marker=k2`, { token: user.token, version: '2.35' });
  assert.deepEqual(second.body.keypairs.map((k: any) => k.keypair.name), ['k3']);
  assert.equal(second.body.keypairs_links, undefined);
  // Before 2.35 limit is ignored.
  const old = await cloud.req('GET', `${KP}?limit=1`, { token: user.token, version: '2.34' });
  assert.equal(old.body.keypairs.length, 3);
  assert.equal(old.body.keypairs_links, undefined);
});

test('an unknown marker or a negative limit is 400', async () => {
  const marker = await cloud.req('GET', `${KP}?marker=nope`, { token: cloud.demoToken, version: '2.35' });
  assert.equal(marker.status, 400);
  assert.equal(marker.body.badRequest.message, 'Marker nope could not be found.');
  const limit = await cloud.req('GET', `${KP}?limit=-1`, { token: cloud.demoToken, version: '2.35' });
  assert.equal(limit.status, 400);
  assert.equal(limit.body.badRequest.message, "Invalid input for query parameters limit. Value: -1. '-1' does not match '^[0-9]*$'");
});

test('from 2.75 unknown query parameters are refused', async () => {
  const res = await cloud.req('GET', `${KP}?foo=bar`, { token: cloud.demoToken, version: '2.75' });
  assert.equal(res.status, 400);
  assert.equal(res.body.badRequest.message, "Additional properties are not allowed ('foo' was unexpected)");
  assert.equal((await cloud.req('GET', `${KP}?foo=bar`, { token: cloud.demoToken, version: '2.74' })).status, 200);
});

test('from 2.10 an admin manages another user\'s keypairs with user_id', async () => {
  const user = await freshUser('kp-managed');
  const made = await create(cloud.adminToken, { name: 'for-user', public_key: RSA_KEY, user_id: user.userId }, '2.10');
  assert.equal(made.status, 201);
  assert.equal(made.body.keypair.user_id, user.userId);
  const own = await cloud.req('GET', KP, { token: user.token, version: '2.10' });
  assert.deepEqual(own.body.keypairs.map((k: any) => k.keypair.name), ['for-user']);
  const listed = await cloud.req('GET', `${KP}?user_id=${user.userId}`, { token: cloud.adminToken, version: '2.10' });
  assert.deepEqual(listed.body.keypairs.map((k: any) => k.keypair.name), ['for-user']);
  const shown = await cloud.req('GET', `${KP}/for-user?user_id=${user.userId}`, { token: cloud.adminToken, version: '2.10' });
  assert.equal(shown.body.keypair.user_id, user.userId);
  const del = await cloud.req('DELETE', `${KP}/for-user?user_id=${user.userId}`, { token: cloud.adminToken, version: '2.10' });
  assert.equal(del.status, 204);
  assert.deepEqual((await cloud.req('GET', KP, { token: user.token })).body.keypairs, []);
});

test('a user_id longer than Nova\'s column (255 characters) is 400 naming it', async () => {
  const res = await create(cloud.adminToken, { name: uniqueName(), public_key: ED25519_KEY, user_id: 'u'.repeat(256) }, '2.10');
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /^Invalid input for field\/attribute user_id\. Value: u+\. 'u+' is too long$/);
});

test('user_id is not accepted before 2.10', async () => {
  const res = await create(cloud.adminToken, { name: 'early', user_id: 'someone' }, '2.9');
  assert.equal(res.status, 400);
  assert.match(res.body.badRequest.message, /Additional properties are not allowed \('user_id' was unexpected\)$/);
});

test('a member may not act on another user\'s keypairs (403), but may name themselves', async () => {
  const user = await freshUser('kp-nosy');
  const target = `${KP}?user_id=someone-else`;
  for (const [method, path, action] of [
    ['GET', target, 'index'],
    ['GET', `${KP}/x?user_id=someone-else`, 'show'],
    ['DELETE', `${KP}/x?user_id=someone-else`, 'delete'],
  ]) {
    const res = await cloud.req(method, path, { token: user.token, version: '2.10' });
    assert.equal(res.status, 403, path);
    assert.equal(res.body.forbidden.message, `Policy doesn't allow os_compute_api:os-keypairs:${action} to be performed.`);
  }
  const made = await create(user.token, { name: 'x', public_key: RSA_KEY, user_id: 'someone-else' }, '2.10');
  assert.equal(made.status, 403);
  const mine = await create(user.token, { name: 'mine', public_key: RSA_KEY, user_id: user.userId }, '2.10');
  assert.equal(mine.status, 201);
});

test('creating past the key_pairs quota is 403 "Quota exceeded, too many key pairs."', async () => {
  const user = await freshUser('kp-quota');
  const set = await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${user.projectId}`, { token: cloud.adminToken, body: { quota_set: { key_pairs: 2 } } });
  assert.equal(set.status, 200);
  assert.equal((await create(user.token, { name: 'one', public_key: RSA_KEY })).status, 200);
  assert.equal((await create(user.token, { name: 'two' })).status, 200);
  const third = await create(user.token, { name: 'three', public_key: RSA_KEY });
  assert.equal(third.status, 403);
  assert.deepEqual(third.body, { forbidden: { code: 403, message: 'Quota exceeded, too many key pairs.' } });
  // The quota comes before the key's own checks, as in Nova.
  assert.equal((await create(user.token, { name: 'three', public_key: 'junk' })).status, 403);
  await cloud.req('DELETE', `${KP}/one`, { token: user.token });
  assert.equal((await create(user.token, { name: 'three', public_key: RSA_KEY })).status, 200);
});

test('a body that is not a keypair is 400', async () => {
  const none = await cloud.req('POST', KP, { token: cloud.demoToken });
  assert.equal(none.status, 400);
  const other = await cloud.req('POST', KP, { token: cloud.demoToken, body: { key: {} } });
  assert.equal(other.status, 400);
  assert.equal(other.body.badRequest.message, "'keypair' is a required property");
});

test('other methods on keypairs are 405', async () => {
  const res = await cloud.req('PUT', `${KP}/x`, { token: cloud.demoToken, body: {} });
  assert.equal(res.status, 405);
});
