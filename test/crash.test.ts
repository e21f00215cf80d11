import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProcess, request, passwordToken, freshDatabase } from './support.js';

/**
 * "Loses nothing when killed": SIGKILL while 50 servers are building, start again, and
 * every server settles ACTIVE (or ERROR with a fault); none stuck in BUILD, none lost.
 */
test('after SIGKILL during 50 builds a restart settles every server, none stuck and none lost', { timeout: 120000 }, async () => {
  const database = await freshDatabase();
  const env: Record<string, string> = { NIMBUS_ADMIN_PASSWORD: 'crash-admin-pw', NIMBUS_DEMO_PASSWORD: 'crash-demo-pw', NIMBUS_FAKE_OPERATION_MS: '2000' };
  if (database.url) env.NIMBUS_DATABASE_URL = database.url;
  const first = await startProcess(env);
  let second: Awaited<ReturnType<typeof startProcess>> | undefined;
  try {
    const url = first.url;
    const admin = (await passwordToken(url, 'admin', 'crash-admin-pw', 'admin')).token;
    const image = (await request(url, 'GET', '/image/v2/images', { token: admin })).body.images[0].id;
    const roles = (await request(url, 'GET', '/identity/v3/roles?name=member', { token: admin })).body.roles;

    // Five projects of ten servers each: the default quota is ten instances.
    const tokens: string[] = [];
    for (let p = 0; p < 5; p++) {
      const project = (await request(url, 'POST', '/identity/v3/projects', { token: admin, body: { project: { name: `crash-${p}`, domain_id: 'default' } } })).body.project;
      const user = (await request(url, 'POST', '/identity/v3/users', { token: admin, body: { user: { name: `crash-${p}`, password: 'pw', domain_id: 'default' } } })).body.user;
      await request(url, 'PUT', `/identity/v3/projects/${project.id}/users/${user.id}/roles/${roles[0].id}`, { token: admin });
      tokens.push((await passwordToken(url, `crash-${p}`, 'pw', `crash-${p}`)).token);
    }
    const created = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        request(url, 'POST', '/compute/v2.1/servers', { token: tokens[i % 5], body: { server: { name: `crash-${i}`, imageRef: image, flavorRef: '1' } } }),
      ),
    );
    const ids = created.map((r) => {
      assert.equal(r.status, 202, r.text);
      return r.body.server.id as string;
    });
    const building = (await request(url, 'GET', '/compute/v2.1/servers/detail?all_tenants=1&status=BUILD', { token: admin })).body.servers.length;
    assert.ok(building >= 40, `most servers are still building when the process is killed (${building})`);

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    second = await startProcess({ ...env, NIMBUS_DATA_DIR: first.dataDir });
    const admin2 = (await passwordToken(second.url, 'admin', 'crash-admin-pw', 'admin')).token;
    let servers: { id: string; status: string; fault?: { message: string } }[] = [];
    const deadline = Date.now() + 90000;
    do {
      await new Promise((r) => setTimeout(r, 250));
      servers = (await request(second.url, 'GET', '/compute/v2.1/servers/detail?all_tenants=1&limit=1000', { token: admin2 })).body.servers;
    } while (servers.some((s) => s.status === 'BUILD') && Date.now() < deadline);

    assert.deepEqual(servers.map((s) => s.id).sort(), [...ids].sort(), 'no server lost');
    for (const s of servers) {
      assert.ok(s.status === 'ACTIVE' || (s.status === 'ERROR' && s.fault?.message), `${s.id} is ${s.status}`);
    }
  } finally {
    await second?.stop();
    await first.stop();
    await database.drop();
  }
});

