/**
 * Storage on whichever database the harness uses: SQLite in a temporary directory by
 * default, a fresh PostgreSQL database when NIMBUS_TEST_DATABASE_URL is set. The same
 * migrations and repositories must behave the same on both.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import SqliteDatabase from 'better-sqlite3';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, migrate, isPostgresUrl, type Db } from '../../src/db/database.js';
import { Directory } from '../../src/identity/directory.js';
import { Tokens } from '../../src/identity/tokens.js';
import { verifyPassword } from '../../src/identity/passwords.js';
import { loadConfig } from '../../src/config.js';
import { createServices, closeServices } from '../../src/services.js';
import { seed, SEED_FLAVORS } from '../../src/bootstrap.js';
import { Clock } from '../../src/clock.js';
import { NimbusError } from '../../src/errors.js';
import { freshDatabase, PG_URL } from '../support.js';
import { createHash } from 'node:crypto';
import { sql } from 'kysely';

let dir: string;
let url: string;
let drop: () => Promise<void>;
let db: Db;
const clock = new Clock();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nimbus-storage-'));
  const fresh = await freshDatabase();
  drop = fresh.drop;
  url = fresh.url ?? `sqlite:${join(dir, 'nimbus.sqlite')}`;
  db = await openDatabase(url);
});

after(async () => {
  await db?.destroy();
  await drop?.();
  rmSync(dir, { recursive: true, force: true });
});

const kind = (err: unknown) => (err instanceof NimbusError ? err.kind : err);

test('the harness database is the one NIMBUS_TEST_DATABASE_URL names, or SQLite', () => {
  assert.equal(isPostgresUrl(url), Boolean(PG_URL));
});

test('migrations apply once, and running them again (in a new connection too) changes nothing', async () => {
  const applied = await migrate(db);
  assert.equal(applied[0], '001_platform');
  assert.deepEqual(applied, [...applied].sort(), 'migrations apply in name order');
  assert.deepEqual(await migrate(db), []);
  const again = await openDatabase(url);
  try {
    assert.deepEqual(await migrate(again), []);
  } finally {
    await again.destroy();
  }
  const tables = (await db.introspection.getTables()).map((t) => t.name).sort();
  for (const t of ['flavor_access', 'flavor_extra_specs', 'flavors', 'images', 'projects', 'role_assignments', 'roles', 'tokens', 'users']) {
    assert.ok(tables.includes(t), `table ${t} exists (have ${tables.join(', ')})`);
  }
});

test('projects round-trip: create, find by id and name, update, list, delete', async () => {
  const directory = new Directory(db, clock);
  const p = await directory.createProject({ name: 'storage-projekt-ü', description: 'Ünïcödé and "quotes"' });
  assert.match(p.id, /^[0-9a-f]{32}$/);
  assert.deepEqual(await directory.findProject({ id: p.id }), p);
  assert.deepEqual(await directory.findProject({ name: 'storage-projekt-ü' }), p);
  const updated = await directory.updateProject(p.id, { description: 'changed', enabled: false });
  assert.equal(updated.description, 'changed');
  assert.equal(updated.enabled, 0);
  assert.equal(updated.name, p.name);
  assert.deepEqual((await directory.listProjects({ name: p.name, enabled: false })).map((x) => x.id), [p.id]);
  assert.deepEqual(await directory.listProjects({ name: p.name, enabled: true }), []);
  await directory.deleteProject(p.id);
  assert.equal(await directory.findProject({ id: p.id }), undefined);
  await assert.rejects(directory.deleteProject(p.id), (e) => kind(e) === 'not_found');
});

test('a duplicate project, user or role name is a conflict on either database', async () => {
  const directory = new Directory(db, clock);
  await directory.createProject({ name: 'dup-project' });
  await assert.rejects(directory.createProject({ name: 'dup-project' }), (e) => kind(e) === 'conflict');
  await directory.createUser({ name: 'dup-user', password: 'pw' });
  await assert.rejects(directory.createUser({ name: 'dup-user', password: 'pw' }), (e) => kind(e) === 'conflict');
  await directory.createRole('dup-role');
  await assert.rejects(directory.createRole('dup-role'), (e) => kind(e) === 'conflict');
});

test('users round-trip with a scrypt hash, never the password', async () => {
  const directory = new Directory(db, clock);
  const project = await directory.createProject({ name: 'user-home' });
  const u = await directory.createUser({ name: 'alice', password: 's3cret', email: 'alice@example.org', defaultProjectId: project.id });
  const stored = await directory.getUser(u.id);
  assert.deepEqual(stored, u);
  assert.match(stored.password_hash, /^scrypt\$/);
  assert.ok(!stored.password_hash.includes('s3cret'));
  assert.equal(await verifyPassword('s3cret', stored.password_hash), true);
  assert.equal(await verifyPassword('wrong', stored.password_hash), false);
  const changed = await directory.updateUser(u.id, { password: 'n3w', email: null, enabled: false });
  assert.equal(changed.email, null);
  assert.equal(changed.enabled, 0);
  assert.equal(await verifyPassword('n3w', changed.password_hash), true);
  assert.deepEqual((await directory.listUsers({ name: 'alice' })).map((x) => x.id), [u.id]);
});

test('role assignments round-trip and go away with their user (foreign keys cascade)', async () => {
  const directory = new Directory(db, clock);
  const project = await directory.createProject({ name: 'assign-project' });
  const user = await directory.createUser({ name: 'assign-user', password: 'pw' });
  const role = await directory.createRole('assign-role');
  await directory.assignRole(project.id, user.id, role.id);
  await directory.assignRole(project.id, user.id, role.id); // granting twice is no error
  assert.equal(await directory.hasAssignment(project.id, user.id, role.id), true);
  assert.deepEqual(await directory.roleNames(user.id, project.id), ['assign-role']);
  assert.deepEqual((await directory.projectsOfUser(user.id)).map((p) => p.id), [project.id]);
  const assignments = await directory.listAssignments({ userId: user.id });
  assert.deepEqual(
    assignments.map((a) => ({ user_id: a.user_id, project_id: a.project_id, role_id: a.role_id, role_name: a.role_name })),
    [{ user_id: user.id, project_id: project.id, role_id: role.id, role_name: 'assign-role' }],
  );
  await directory.deleteUser(user.id);
  assert.deepEqual(await directory.listAssignments({ projectId: project.id }), []);
  await assert.rejects(directory.unassignRole(project.id, user.id, role.id), (e) => kind(e) === 'not_found');
});

test('tokens are stored hashed, validate to the caller, expire and revoke', async () => {
  const directory = new Directory(db, clock);
  const tokens = new Tokens(db, clock, 60);
  const project = await directory.createProject({ name: 'token-project' });
  const user = await directory.createUser({ name: 'token-user', password: 'pw' });
  for (const name of ['admin', 'member', 'reader']) {
    if (!(await directory.listRoles({ name })).length) await directory.createRole(name);
  }
  const member = (await directory.listRoles({ name: 'member' }))[0];
  await directory.assignRole(project.id, user.id, member.id);

  const { token, ctx } = await tokens.issue({ userId: user.id, projectId: project.id, methods: ['password'] });
  assert.equal(ctx.userName, 'token-user');
  assert.equal(ctx.projectName, 'token-project');
  assert.deepEqual(ctx.roles.map((r) => r.name), ['member', 'reader']);
  assert.equal(ctx.isAdmin, false);
  const rows = await db.selectFrom('tokens').selectAll().where('user_id', '=', user.id).execute();
  assert.equal(rows.length, 1);
  assert.notEqual(rows[0].id, token);
  assert.match(rows[0].id, /^[0-9a-f]{64}$/);

  // A second Tokens has no cache: this is what the database says.
  const fresh = new Tokens(db, clock, 60);
  assert.equal((await fresh.validate(token))?.userId, user.id);
  assert.equal(await fresh.revoke(token), true);
  assert.equal(await fresh.revoke(token), false);
  assert.equal(await new Tokens(db, clock, 60).validate(token), null);

  const unscoped = await tokens.issue({ userId: user.id, projectId: null, methods: ['password'] });
  assert.equal(unscoped.ctx.projectId, null);
  assert.deepEqual(unscoped.ctx.roles, []);
  const later = new Clock();
  later.advance(61_000);
  assert.equal(await new Tokens(db, later, 60).validate(unscoped.token), null);
  assert.ok((await new Tokens(db, later, 60).purgeExpired()) >= 2);
  assert.deepEqual(await db.selectFrom('tokens').selectAll().where('user_id', '=', user.id).execute(), []);
});

test('flavors, extra specs and access rows round-trip with their types', async () => {
  const now = clock.now().toISOString();
  await db
    .insertInto('flavors')
    .values({ id: 'rt-1', name: 'rt.flavor', vcpus: 3, ram: 3072, disk: 30, ephemeral: 5, swap: 512, rxtx_factor: 1.5, is_public: 0, disabled: 0, description: 'ütf-8 ✓', created_at: now })
    .execute();
  await db.insertInto('flavor_extra_specs').values([{ flavor_id: 'rt-1', key: 'hw:cpu_policy', value: 'dedicated' }]).execute();
  await db.insertInto('flavor_access').values({ flavor_id: 'rt-1', project_id: 'p1' }).execute();
  const f = await db.selectFrom('flavors').selectAll().where('id', '=', 'rt-1').executeTakeFirstOrThrow();
  assert.deepEqual(f, { id: 'rt-1', name: 'rt.flavor', vcpus: 3, ram: 3072, disk: 30, ephemeral: 5, swap: 512, rxtx_factor: 1.5, is_public: 0, disabled: 0, description: 'ütf-8 ✓', created_at: now });
  await db.deleteFrom('flavors').where('id', '=', 'rt-1').execute();
  assert.deepEqual(await db.selectFrom('flavor_extra_specs').selectAll().where('flavor_id', '=', 'rt-1').execute(), []);
  assert.deepEqual(await db.selectFrom('flavor_access').selectAll().where('flavor_id', '=', 'rt-1').execute(), []);
});

test('an image size past 2 GiB comes back as the same number (bigint on PostgreSQL)', async () => {
  const now = clock.now().toISOString();
  const size = 5 * 1024 ** 3 + 7;
  await db
    .insertInto('images')
    .values({ id: 'img-big', name: null, owner: 'o', status: 'queued', visibility: 'private', container_format: null, disk_format: null, size, checksum: null, os_hash_algo: null, os_hash_value: null, min_disk: 0, min_ram: 0, protected: 0, properties: JSON.stringify({ os_distro: 'debian' }), tags: '["a","b"]', created_at: now, updated_at: now })
    .execute();
  const img = await db.selectFrom('images').selectAll().where('id', '=', 'img-big').executeTakeFirstOrThrow();
  assert.equal(img.size, size);
  assert.equal(typeof img.size, 'number');
  assert.equal(img.name, null);
  assert.deepEqual(JSON.parse(img.properties), { os_distro: 'debian' });
});

test('a transaction that throws leaves nothing behind', async () => {
  await assert.rejects(
    db.transaction().execute(async (tx) => {
      await tx.insertInto('roles').values({ id: 'tx-role', name: 'tx-role' }).execute();
      throw new Error('abort');
    }),
    /abort/,
  );
  assert.equal(await db.selectFrom('roles').select('id').where('id', '=', 'tx-role').executeTakeFirst(), undefined);
});

test('a SQLite transaction holds the write lock from its first statement: a write by another connection waits, and the transaction commits', { skip: PG_URL ? 'SQLite only' : false }, async () => {
  // Another process on the same file (nimbus migrate, a tool): told not to wait, it is
  // refused at once; with a deferred BEGIN it got in between, and this transaction's
  // write then failed with SQLITE_BUSY, as a 500.
  const other = new SqliteDatabase(url.slice('sqlite:'.length));
  other.pragma('busy_timeout = 0');
  let otherWrite = 'not tried';
  try {
    await db.transaction().execute(async (tx) => {
      await tx.selectFrom('roles').select('id').execute();
      try {
        other.prepare("INSERT INTO roles (id, name) VALUES ('lock-other', 'lock-other')").run();
        otherWrite = 'written';
      } catch (err) {
        otherWrite = (err as { code: string }).code;
      }
      await tx.insertInto('roles').values({ id: 'lock-mine', name: 'lock-mine' }).execute();
    });
  } finally {
    other.close();
  }
  assert.equal(otherWrite, 'SQLITE_BUSY');
  assert.ok(await db.selectFrom('roles').select('id').where('id', '=', 'lock-mine').executeTakeFirst());
});

test('seeding a fresh database creates the embedded setup once; seeding again does nothing', async () => {
  const fresh = await freshDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), 'nimbus-seed-'));
  const config = loadConfig({
    env: {},
    overrides: { dataDir, logLevel: 'silent', adminPassword: 'a-pw', demoPassword: 'd-pw', ...(fresh.url ? { databaseUrl: fresh.url } : {}) },
  });
  try {
    const services = await createServices(config);
    try {
      const first = await seed(services);
      assert.deepEqual(first, { adminPassword: 'a-pw', demoPassword: 'd-pw', generated: false });
      assert.equal(await seed(services), null);
    } finally {
      await closeServices(services);
    }
    // A restart reuses the database: migrations and seed are no-ops.
    const again = await createServices(config);
    try {
      assert.equal(await seed(again), null);
      const flavors = await again.db.selectFrom('flavors').select(['id', 'name', 'vcpus', 'ram', 'disk']).orderBy('id').execute();
      assert.deepEqual(flavors, SEED_FLAVORS);
      assert.deepEqual((await again.directory.listUsers()).map((u) => u.name), ['admin', 'demo']);
      assert.deepEqual((await again.directory.listProjects()).map((p) => p.name), ['admin', 'demo']);
      assert.deepEqual((await again.directory.listRoles()).map((r) => r.name), ['admin', 'member', 'reader']);
      const admin = (await again.directory.findUser({ name: 'admin' }))!;
      assert.deepEqual(await again.directory.roleNames(admin.id, admin.default_project_id!), ['admin']);
      const images = await again.db.selectFrom('images').select(['name', 'status', 'visibility']).execute();
      assert.deepEqual(images, [{ name: 'nimbus-demo', status: 'active', visibility: 'public' }]);
    } finally {
      await closeServices(again);
    }
  } finally {
    await fresh.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('on PostgreSQL two creates in one project do not wait for each other on server_usage', { skip: PG_URL ? false : 'PostgreSQL only: SQLite has one writer' }, async () => {
  // Each server's share goes to a row of its own shard (migration 075): an open create holds
  // its row, not the whole project's. Two ids whose md5 starts in different shards.
  const shard = (id: string) => parseInt(createHash('md5').update(id).digest('hex').slice(0, 2), 16) % 16;
  const ids = ['sh-1', 'sh-2', 'sh-3', 'sh-4', 'sh-5'];
  const first = ids[0];
  const second = ids.find((id) => shard(id) !== shard(first))!;
  const now = clock.now().toISOString();
  const server = (id: string) => ({
    id, project_id: 'ps-1', user_id: 'us-1', name: id, hostname: id, description: null, vm_state: 'building', task_state: 'scheduling', power_state: 0,
    progress: 0, flavor_id: '1', flavor: '{}', vcpus: 1, memory_mb: 512, disk_gb: 1, image_id: 'img', host: null, availability_zone: null,
    key_name: null, key_data: null, user_data: null, config_drive: '', access_ipv4: '', access_ipv6: '', disk_config: 'MANUAL', locked: 0,
    locked_by: null, locked_reason: null, metadata: '{}', security_groups: '[]', addresses: '{}', fault: null, reservation_id: 'r-1',
    launch_index: 0, request_spec: '{}', created_at: now, updated_at: now, launched_at: null, terminated_at: null, deleted_at: null, deleted: 0,
  });
  try {
    await db.transaction().execute(async (open) => {
      await open.insertInto('servers').values(server(first)).execute();
      // While the first create's transaction is open, a second one commits (or times out waiting).
      await db.transaction().execute(async (tx) => {
        await sql`set local lock_timeout = '2s'`.execute(tx);
        await tx.insertInto('servers').values(server(second)).execute();
      });
    });
    const { n } = await db.selectFrom('server_usage').select((eb) => eb.fn.sum<number>('instances').as('n')).where('project_id', '=', 'ps-1').executeTakeFirstOrThrow();
    assert.equal(Number(n), 2);
  } finally {
    await db.deleteFrom('servers').where('project_id', '=', 'ps-1').execute();
  }
});

test('server_usage always equals the sums over live servers, whatever writes the servers', async () => {
  // Quotas and the scheduler read these sums; triggers keep them, so every write counts.
  const now = clock.now().toISOString();
  const server = (id: string, over: Record<string, unknown> = {}) => ({
    id, project_id: 'pu-1', user_id: 'uu-1', name: id, hostname: id, description: null, vm_state: 'building', task_state: 'scheduling', power_state: 0,
    progress: 0, flavor_id: '1', flavor: '{}', vcpus: 1, memory_mb: 512, disk_gb: 1, image_id: 'img', host: null, availability_zone: null,
    key_name: null, key_data: null, user_data: null, config_drive: '', access_ipv4: '', access_ipv6: '', disk_config: 'MANUAL', locked: 0,
    locked_by: null, locked_reason: null, metadata: '{}', security_groups: '[]', addresses: '{}', fault: null, reservation_id: 'r-1',
    launch_index: 0, request_spec: '{}', created_at: now, updated_at: now, launched_at: null, terminated_at: null, deleted_at: null, deleted: 0,
    ...over,
  });
  const expected = async () =>
    (
      await db
        .selectFrom('servers')
        .select((eb) => ['project_id', 'user_id', 'host', 'vm_state', eb.fn.countAll<number>().as('instances'), eb.fn.sum<number>('vcpus').as('vcpus'), eb.fn.sum<number>('memory_mb').as('memory_mb'), eb.fn.sum<number>('disk_gb').as('disk_gb')])
        .where('deleted', '=', 0)
        .where('project_id', 'in', ['pu-1', 'pu-2'])
        .groupBy(['project_id', 'user_id', 'host', 'vm_state'])
        .execute()
    )
      .map((r) => `${r.project_id}/${r.user_id}/${r.host ?? ''}/${r.vm_state}: ${Number(r.instances)} ${Number(r.vcpus)} ${Number(r.memory_mb)} ${Number(r.disk_gb)}`)
      .sort();
  const kept = async () =>
    // PostgreSQL spreads a key over shards (migration 075): what holds is the key's sums.
    (
      await db
        .selectFrom('server_usage')
        .select((eb) => ['project_id', 'user_id', 'host', 'vm_state', eb.fn.sum<number>('instances').as('instances'), eb.fn.sum<number>('vcpus').as('vcpus'), eb.fn.sum<number>('memory_mb').as('memory_mb'), eb.fn.sum<number>('disk_gb').as('disk_gb')])
        .where('project_id', 'in', ['pu-1', 'pu-2'])
        .groupBy(['project_id', 'user_id', 'host', 'vm_state'])
        .having((eb) => eb.fn.sum('instances'), '!=', 0)
        .execute()
    )
      .map((r) => `${r.project_id}/${r.user_id}/${r.host}/${r.vm_state}: ${Number(r.instances)} ${Number(r.vcpus)} ${Number(r.memory_mb)} ${Number(r.disk_gb)}`)
      .sort();
  const check = async (what: string) => assert.deepEqual(await kept(), await expected(), what);

  await db.insertInto('servers').values([server('su-1'), server('su-2'), server('su-3', { deleted: 1 }), server('su-4', { project_id: 'pu-2', vcpus: 4, memory_mb: 8192, disk_gb: 80 })]).execute();
  await check('inserted, one of them deleted already');
  await db.updateTable('servers').set({ host: 'h1', task_state: 'networking' }).where('id', 'in', ['su-1', 'su-4']).execute();
  await check('placed on a host');
  await db.updateTable('servers').set({ task_state: 'spawning', progress: 75 }).where('id', '=', 'su-1').execute();
  await check('a write of untracked columns');
  await db.updateTable('servers').set({ vm_state: 'active', task_state: null }).where('id', '=', 'su-1').execute();
  await db.updateTable('servers').set({ vcpus: 2, memory_mb: 2048, disk_gb: 20 }).where('id', '=', 'su-1').execute();
  await check('active, then resized');
  await db.updateTable('servers').set({ vm_state: 'shelved_offloaded', host: null }).where('id', '=', 'su-4').execute();
  await db.updateTable('servers').set({ project_id: 'pu-2', user_id: 'uu-2' }).where('id', '=', 'su-2').execute();
  await check('offloaded, and moved to another project and user');
  await db.updateTable('servers').set({ deleted: 1, vm_state: 'deleted' }).where('id', '=', 'su-1').execute();
  await db.updateTable('servers').set({ deleted: 0 }).where('id', '=', 'su-3').execute();
  await check('one deleted, one restored');
  await db.deleteFrom('servers').where('id', 'in', ['su-1', 'su-2', 'su-3', 'su-4']).execute();
  await check('rows removed');
  assert.deepEqual(await kept(), []);
});
