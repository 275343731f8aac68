// Asks a list of DNS questions with the agent's own client and prints the answers as
// JSON, for tests that must ask from inside a network namespace:
//   node dns-query-main.ts '[{"server": "10.96.0.10", "port": 53, "name": "...", "type": 1, "transport": "udp"}]'
import { type DnsQuery, queryDns } from '../src/dns/client.ts';

const queries = JSON.parse(process.argv[2] ?? '[]') as DnsQuery[];
const results = [];
for (const q of queries) {
  try {
    const m = await queryDns(q);
    results.push({
      rcode: m.rcode,
      tc: m.tc,
      aa: m.aa,
      answers: m.answers.map((a) => a.data),
      additionals: m.additionals.map((a) => a.data),
    });
  } catch (err) {
    results.push({ error: err instanceof Error ? err.message : String(err) });
  }
}
process.stdout.write(`${JSON.stringify(results)}\n`);
