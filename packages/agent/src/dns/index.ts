// The cluster DNS add-on: its wire codec, the cluster zone built from Services, the
// server (UDP and TCP, forwarding with a cache), a small client, and pods' resolv.conf.

export { AnswerCache, cacheKey } from './answer-cache.ts';
export type { DnsQuery } from './client.ts';
export { DnsQueryError, defaultDnsQueryTimeoutMs, queryDns, queryMessage } from './client.ts';
export type { ClusterZoneOptions, ZoneAnswer } from './cluster-zone.ts';
export {
  ClusterZone,
  dashedIP,
  defaultRecordTtlSeconds,
  dnsSchemaVersion,
  reverseName,
} from './cluster-zone.ts';
export type { ClusterDnsOptions, DnsTransport } from './dns-server.ts';
export { ClusterDns, clusterDnsDefaults, DnsListenError } from './dns-server.ts';
export type { ForwarderOptions, Upstream } from './forwarder.ts';
export { Forwarder, ForwarderBusyError, UpstreamError } from './forwarder.ts';
export type { PodDnsSettings } from './resolv-conf.ts';
export { clusterNdots, clusterSearchPath, maxResolvConfNameservers, podResolvConf } from './resolv-conf.ts';
export type { DnsMessage, Edns, Question, RecordData, ResourceRecord } from './wire.ts';
export {
  canonicalName,
  classicUdpPayloadBytes,
  DnsEncodeError,
  DnsFormatError,
  decodeMessage,
  encodeMessage,
  encodeWithin,
  maxMessageBytes,
  nameToLabels,
  Opcode,
  Rcode,
  RRClass,
  RRType,
  recordTtlOffsets,
  recordType,
} from './wire.ts';
