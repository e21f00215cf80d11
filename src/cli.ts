#!/usr/bin/env node
import { loadConfig, ConfigError, type Config } from './config.js';
import { createServices, closeServices } from './services.js';
import { buildApp } from './app.js';
import { SEED_NETWORK, SEED_PUBLIC_NETWORK, seed, writeCloudsYaml, type FirstStart } from './bootstrap.js';
import { startWorkers } from './tasks/workers.js';
import { isPostgresUrl } from './db/database.js';
import { QemuDriver } from './virt/qemu/driver.js';

const USAGE = `usage: nimbus <command> [--config FILE]

commands:
  serve     start the API on the embedded defaults (migrates and seeds on first start)
  migrate   create or upgrade the database schema, then exit

configuration: a JSON file (--config or NIMBUS_CONFIG) and the environment:
  NIMBUS_LISTEN (127.0.0.1:8774)  NIMBUS_DATA_DIR (./.nimbus)  NIMBUS_DATABASE_URL
  NIMBUS_DRIVER (fake)  NIMBUS_PUBLIC_URL  NIMBUS_REGION  NIMBUS_TOKEN_TTL  NIMBUS_LOG_LEVEL
  NIMBUS_NODE_ID (kept in the data directory)  NIMBUS_TASK_LEASE_SECONDS (30)
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
  const config = loadConfig({ file });
  if (command === 'serve') return serve(config);
  if (command === 'migrate') {
    const services = await createServices(config);
    await closeServices(services);
    return;
  }
  process.stderr.write(`nimbus: unknown command "${command}"\n${USAGE}\n`);
  process.exit(2);
}

main(process.argv.slice(2)).catch((err) => {
  if (err instanceof ConfigError) process.stderr.write(`nimbus: ${err.message}\n`);
  else process.stderr.write(`nimbus: ${err?.stack ?? err}\n`);
  process.exit(1);
});
