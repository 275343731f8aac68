import { createHash } from 'node:crypto';

/** Every chain of ours starts with this; nothing else is ever flushed or deleted. */
export const chainPrefix = 'FLOTILLA-';

/** Entry chain for service traffic (nat PREROUTING and OUTPUT; filter OUTPUT and FORWARD). */
export const servicesChain = 'FLOTILLA-SERVICES';
/** NodePorts: traffic to one of the node's own addresses. */
export const nodePortsChain = 'FLOTILLA-NODEPORTS';
/** Masquerades what FLOTILLA-MARK-MASQ marked (nat POSTROUTING). */
export const postroutingChain = 'FLOTILLA-POSTROUTING';
export const markMasqChain = 'FLOTILLA-MARK-MASQ';

/** iptables refuses chain names of 29 characters or more. */
export const maxChainNameLength = 28;
/** Hash characters after `FLOTILLA-SVC-`: 15 base32 characters, 75 bits. */
const hashChars = maxChainNameLength - 'FLOTILLA-SVC-'.length;

const base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 of the SHA-256 of `text`, first `chars` characters (upper case, chain-name safe). */
function hashName(text: string, chars: number): string {
  const digest = createHash('sha256').update(text).digest();
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of digest) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < chars) {
      out += base32Alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
    if (out.length === chars) break;
  }
  return out;
}

/**
 * The chain that picks an endpoint for one port of one Service. Named by a hash of the
 * port's identity, so it keeps its name across syncs and agents, and only a change to
 * that port's endpoints rewrites it.
 */
export function serviceChainName(portKey: string, protocol: string): string {
  return `FLOTILLA-SVC-${hashName(`${portKey}/${protocol}`, hashChars)}`;
}

/** The chain that DNATs to one endpoint of one Service port. */
export function endpointChainName(portKey: string, protocol: string, endpoint: string): string {
  return `FLOTILLA-SEP-${hashName(`${portKey}/${protocol}/${endpoint}`, hashChars)}`;
}
