#!/usr/bin/env node
import { loadConfig, ConfigError, type Config } from './config.js';
import { createServices, closeServices, type Role, type Services } from './services.js';
import { buildApp } from './app.js';
import { SEED_NETWORK, SEED_PUBLIC_NETWORK, seed, writeCloudsYaml, type FirstStart } from './bootstrap.js';
import { startWorkers } from './tasks/workers.js';
import { startHostEndpoint } from './compute/host-calls.js';
import { isPostgresUrl } from './db/database.js';
import { QemuDriver } from './virt/qemu/driver.js';

const USAGE = `usage: nimbus <command> [--config FILE]

commands:
  serve       every role in one process, on the embedded defaults (migrates and seeds on first start)
  migrate     create or upgrade the database schema and seed a first start's data, then exit

several machines on one PostgreSQL (NIMBUS_DATABASE_URL=postgres://…; run \`nimbus migrate\` first):
  api                       the HTTP APIs (NIMBUS_LISTEN, NIMBUS_PUBLIC_URL); runs no tasks
  conductor [--host NAME]   scheduling, work spanning hosts, periodic jobs, the work of dead hosts
  compute --host NAME [--driver fake|qemu]
                            one hypervisor host: registers NAME, heartbeats, runs its tasks

configuration: a JSON file (--config or NIMBUS_CONFIG) and the environment:
  NIMBUS_LISTEN (127.0.0.1:8774)  NIMBUS_DATA_DIR (./.nimbus)  NIMBUS_DATABASE_URL
  NIMBUS_DRIVER (fake)  NIMBUS_PUBLIC_URL  NIMBUS_REGION  NIMBUS_TOKEN_TTL  NIMBUS_LOG_LEVEL
  NIMBUS_NODE_ID (kept in the data directory)  NIMBUS_TASK_LEASE_SECONDS (30)  NIMBUS_TASK_POLL_MS (250)
  NIMBUS_SERVICE_DOWN_TIME (60)  NIMBUS_SCHEDULER_MAX_ATTEMPTS (3)  NIMBUS_HOST_IP (compute; 127.0.0.1)
  NIMBUS_ADMIN_PASSWORD  NIMBUS_DEMO_PASSWORD (first start only)`;

function describeDatabase(config: Config): string {
  // Never print a PostgreSQL password.
  return config.databaseUrl.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

/**
 * The passwords generated on first start live in clouds.yaml (0600). A person at a terminal
 * sees them once; piped or redirected output (a log file, journald, a CI log) never gets them.
 */
function generatedPasswords(config: Config, first: FirstStart, clouds: string, terminal: boolean): string[] {
  const users = [!config.adminPassword && 'admin', !config.demoPassword && 'demo'].filter((u): u is string => !!u);
  if (!terminal) return [`First start: the generated passwords of ${users.join(' and ')} are in ${clouds} (mode 0600), not in this output.`];
  return [
    'First start: generated passwords, shown this once on this terminal (clouds.yaml has them too):',
    ...users.map((u) => `  ${u.padEnd(5)}  ${u === 'admin' ? first.adminPassword : first.demoPassword}`),
  ];
}

async function serve(config: Config): Promise<void> {
  const services = await createServices(config);
  // Building the routes is the main thread's work; a first start's password hashing runs
  // in libuv's pool meanwhile.
  const [first, app] = await Promise.all([seed(services), buildApp(services)]);
  const clouds = writeCloudsYaml(services, first);
  // On SQLite this is the only node, so tasks found running belong to a process that died.
  await startWorkers(services, !isPostgresUrl(config.databaseUrl));
  await app.listen({ host: config.listen.host, port: config.listen.port });

  const lines = [
    `Nimbus is listening on ${config.publicUrl}`,
    `  identity  ${config.publicUrl}/identity/v3`,
    `  compute   ${config.publicUrl}/compute/v2.1`,
    `  image     ${config.publicUrl}/image`,
    `  network   ${config.publicUrl}/network  (the demo project's network ${SEED_NETWORK.name}, ${SEED_NETWORK.cidr}, routed by ${SEED_PUBLIC_NETWORK.router} to the external network ${SEED_PUBLIC_NETWORK.name}, ${SEED_PUBLIC_NETWORK.cidr}, for floating IPs; made on first start as DevStack does)`,
    `  driver    ${config.driver}${services.driver instanceof QemuDriver ? ` (${services.driver.describe()})` : ''}`,
    `  database  ${describeDatabase(config)}`,
    `  clouds    ${clouds}  (export OS_CLIENT_CONFIG_FILE=${clouds}; openstack --os-cloud nimbus-demo server list)`,
  ];
  if (first?.generated) lines.push('', ...generatedPasswords(config, first, clouds, process.stdout.isTTY === true));
  process.stdout.write(lines.join('\n') + '\n');

  const stop = async () => {
    await app.close();
    await services.runner.stop();
    await closeServices(services);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** Ends a role's process cleanly on SIGINT/SIGTERM. */
function stopOn(services: Services, before: () => Promise<void> = async () => {}): void {
  const stop = async () => {
    await before();
    await services.runner.stop();
    await closeServices(services);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** `nimbus migrate`: the schema, then a first start's data (once) and clouds.yaml. */
async function migrateCommand(config: Config): Promise<void> {
  const services = await createServices(config, { role: { kind: 'migrate' } });
  const first = await seed(services);
  const clouds = writeCloudsYaml(services, first);
  const lines = [`database  ${describeDatabase(config)} is up to date`, `clouds    ${clouds}`];
  if (first?.generated) lines.push('', ...generatedPasswords(config, first, clouds, process.stdout.isTTY === true));
  process.stdout.write(lines.join('\n') + '\n');
  await closeServices(services);
}

async function apiCommand(config: Config): Promise<void> {
  const services = await createServices(config, { role: { kind: 'api' } });
  const app = await buildApp(services);
  await app.listen({ host: config.listen.host, port: config.listen.port });
  process.stdout.write(`Nimbus API is listening on ${config.publicUrl} (database ${describeDatabase(config)})\n`);
  stopOn(services, () => app.close());
}

async function workerCommand(config: Config, role: Role, processHost?: string): Promise<void> {
  const services = await createServices(config, { role });
  await startWorkers(services, false, { processHost });
  // A compute host answers the calls API nodes make to its guests (console output, consoles …).
  const endpoint = role.kind === 'compute' ? await startHostEndpoint(services) : null;
  const what = role.kind === 'compute' ? `compute host ${role.host} (driver ${services.driver.name})` : `conductor${processHost ? ` on ${processHost}` : ''}`;
  process.stdout.write(`Nimbus ${what} is running (database ${describeDatabase(config)})\n`);
  // No server holds this process open, and the runner's timers do not: when every database
  // connection drops (PostgreSQL restarting) nothing would be left and it would end, quietly,
  // with 0. It runs until it is told to stop.
  setInterval(() => {}, 1 << 30);
  stopOn(services, async () => endpoint?.close());
}

/** The value after `--name`, or undefined. */
function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith('--')) throw new ConfigError(`${name} needs a value`);
  return value;
}

async function main(argv: string[]): Promise<void> {
  // Whatever this process creates (the database, image and server data, files a library
  // writes) is readable by its user only; the data directory's files also set it explicitly.
  process.umask(0o077);
  const command = argv[0];
  const configIndex = argv.indexOf('--config');
  const file = configIndex >= 0 ? argv[configIndex + 1] : undefined;
  if (!command || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const driver = option(argv, '--driver');
  const config = loadConfig({ file, overrides: driver ? { driver: driver as Config['driver'] } : {} });
  if (command === 'serve') return serve(config);
  if (command === 'migrate') return migrateCommand(config);
  if (command === 'api') return apiCommand(config);
  if (command === 'conductor') return workerCommand(config, { kind: 'conductor' }, option(argv, '--host'));
  if (command === 'compute') {
    const host = option(argv, '--host');
    if (!host || !/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/.test(host)) throw new ConfigError('nimbus compute needs --host NAME (a host name: letters, digits, "." and "-")');
    return workerCommand(config, { kind: 'compute', host });
  }
  process.stderr.write(`nimbus: unknown command "${command}"\n${USAGE}\n`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError) process.stderr.write(`nimbus: ${err.message}\n`);
  else process.stderr.write(`nimbus: ${err?.stack ?? err}\n`);
  process.exit(1);
});
