// One cluster DNS replica, for the tests that run it inside a pod namespace:
//   node dns-replica-main.ts <listen-ip> <port>
// Service events arrive on stdin as JSON lines ({"kind": "added", "object": ...}); the
// first line on stdout is `listening <port>`, and `synced` follows the synced event
// (from then on it answers from the whole list). Ends when stdin closes or on SIGTERM.
import { createInterface } from 'node:readline';
import { createLogger } from '@flotilla/actor';
import { ClusterDns } from '../src/dns/dns-server.ts';
import type { ServiceCatalogEvent } from '../src/net/service-catalog.ts';

const [address = '127.0.0.1', port = '53'] = process.argv.slice(2);
const dns = await ClusterDns.start({
  listen: { address, port: Number(port) },
  logger: createLogger({ level: process.env.FLOTILLA_TEST_LOG_LEVEL ?? 'warn' }),
});
process.stdout.write(`listening ${dns.port}\n`);
const stop = () => {
  void dns.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue;
  const event = JSON.parse(line) as ServiceCatalogEvent;
  dns.handle(event);
  if (event.kind === 'synced') process.stdout.write('synced\n');
}
stop();
