/**
 * A compute host's process for the tests of host calls across processes, until the CLI's
 * `nimbus compute` role serves its endpoint itself: the configured fake hosts, their tasks
 * and heartbeats, and the host endpoint. Prints "host endpoint <url>" once it answers.
 */
import { loadConfig } from '../../../src/config.js';
import { createServices, closeServices } from '../../../src/services.js';
import { startWorkers } from '../../../src/tasks/workers.js';
import { startHostEndpoint } from '../../../src/compute/host-calls.js';

const services = await createServices(loadConfig({ env: process.env }));
await startWorkers(services, false);
const endpoint = await startHostEndpoint(services, { host: '127.0.0.1', port: 0 });
process.stdout.write(`host endpoint ${endpoint.url}\n`);
process.once('SIGTERM', async () => {
  await endpoint.close();
  await closeServices(services);
  process.exit(0);
});
