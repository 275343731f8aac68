/**
 * Validation of Services, Endpoints and EndpointSlices: port names, numbers and
 * protocols, service types, cluster IPs (which never change once set), session affinity
 * and traffic policies. https://kubernetes.io/docs/concepts/services-networking/service/
 */
import type { FieldError, FieldPath } from '../field-errors.ts';
import {
  child,
  duplicate,
  forbidden,
  index,
  invalid,
  notSupported,
  required,
  tooMany,
} from '../field-errors.ts';
import { isDNS1123Label, isValidPortNum, nameIsDNS1035Label, nameIsDNSSubdomain } from '../names.ts';
import { parseIP } from '../net.ts';
import type { Endpoints, Service } from '../types/core.ts';
import type { EndpointSlice } from '../types/discovery.ts';
import {
  ipAddressMessage,
  validateDNS1123Subdomain,
  validateIP,
  validateLabels,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from './meta.ts';
import { validatePortNumOrName } from './pod.ts';

const protocols = ['SCTP', 'TCP', 'UDP'];
const serviceTypes = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const maxClientIPTimeoutSeconds = 86_400;
/** An EndpointSlice endpoint carries at most this many addresses. */
const maxAddressesPerEndpoint = 100;

function portNumErrors(port: number, path: FieldPath): FieldError[] {
  return isValidPortNum(port).map((msg) => invalid(path, port, msg));
}

function validateProtocol(protocol: string | undefined, path: FieldPath): FieldError[] {
  if (!protocol) return [required(path)];
  return protocols.includes(protocol) ? [] : [notSupported(path, protocol, protocols)];
}

export function validateService(svc: Service): FieldError[] {
  const errs = validateObjectMeta(svc.metadata, { namespaced: true, name: nameIsDNS1035Label });
  const spec = svc.spec ?? {};
  const type = spec.type;
  const ports = spec.ports ?? [];
  const headless = spec.clusterIP === 'None';

  if (!type) errs.push(required('spec.type'));
  else if (!serviceTypes.includes(type)) errs.push(notSupported('spec.type', type, serviceTypes));
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'));

  if (type === 'ExternalName') {
    if ((spec.clusterIPs ?? []).length > 0 || spec.clusterIP) {
      errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    }
    const cname = (spec.externalName ?? '').replace(/\.$/, '');
    if (cname === '') errs.push(required('spec.externalName'));
    else errs.push(...validateDNS1123Subdomain(cname, 'spec.externalName'));
  } else {
    errs.push(...validateClusterIPs(svc));
  }

  const names = new Set<string>();
  const seenPorts = new Set<string>();
  const seenNodePorts = new Set<string>();
  ports.forEach((p, i) => {
    const pp = index('spec.ports', i);
    if (ports.length > 1 && !p.name) errs.push(required(child(pp, 'name')));
    else if (p.name) {
      errs.push(...isDNS1123Label(p.name).map((msg) => invalid(child(pp, 'name'), p.name, msg)));
      if (names.has(p.name)) errs.push(duplicate(child(pp, 'name'), p.name));
      names.add(p.name);
    }
    errs.push(...portNumErrors(p.port, child(pp, 'port')));
    errs.push(...validateProtocol(p.protocol, child(pp, 'protocol')));
    if (p.targetPort !== undefined)
      errs.push(...validatePortNumOrName(p.targetPort, child(pp, 'targetPort')));
    if (p.nodePort) {
      if (type === 'ClusterIP' || type === 'ExternalName') {
        errs.push(forbidden(child(pp, 'nodePort'), `may not be used when \`type\` is '${type}'`));
      } else {
        errs.push(...portNumErrors(p.nodePort, child(pp, 'nodePort')));
        const nk = `${p.protocol ?? ''}/${p.nodePort}`;
        if (seenNodePorts.has(nk)) errs.push(duplicate(child(pp, 'nodePort'), p.nodePort));
        seenNodePorts.add(nk);
      }
    }
    const k = `${p.protocol ?? ''}/${p.port}`;
    if (seenPorts.has(k)) errs.push(duplicate(pp, { port: p.port, protocol: p.protocol }));
    seenPorts.add(k);
  });

  errs.push(...validateLabels(spec.selector, 'spec.selector'));
  const affinity = spec.sessionAffinity;
  if (!affinity) errs.push(required('spec.sessionAffinity'));
  else if (affinity !== 'ClientIP' && affinity !== 'None')
    errs.push(notSupported('spec.sessionAffinity', affinity, ['ClientIP', 'None']));
  if (affinity === 'None' && spec.sessionAffinityConfig !== undefined) {
    errs.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }
  if (affinity === 'ClientIP') {
    const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (timeout === undefined) errs.push(required('spec.sessionAffinityConfig.clientIP.timeoutSeconds'));
    else if (timeout <= 0 || timeout > maxClientIPTimeoutSeconds) {
      errs.push(
        invalid(
          'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
          timeout,
          `must be greater than 0 and less than ${maxClientIPTimeoutSeconds}`,
        ),
      );
    }
  }
  (spec.externalIPs ?? []).forEach((ip, i) => {
    errs.push(...validateIP(ip, index('spec.externalIPs', i)));
  });

  const externallyAccessible =
    type === 'NodePort' ||
    type === 'LoadBalancer' ||
    (type === 'ClusterIP' && (spec.externalIPs ?? []).length > 0);
  if (spec.externalTrafficPolicy) {
    if (!externallyAccessible) {
      errs.push(
        invalid(
          'spec.externalTrafficPolicy',
          spec.externalTrafficPolicy,
          'may only be set for externally-accessible services',
        ),
      );
    } else if (!['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) {
      errs.push(notSupported('spec.externalTrafficPolicy', spec.externalTrafficPolicy, ['Cluster', 'Local']));
    }
  }
  if (
    spec.internalTrafficPolicy !== undefined &&
    !['Cluster', 'Local'].includes(spec.internalTrafficPolicy)
  ) {
    errs.push(notSupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']));
  }
  return errs;
}

/** clusterIP and clusterIPs agree, hold IPs (or None first), and match the service type. */
function validateClusterIPs(svc: Service): FieldError[] {
  const spec = svc.spec ?? {};
  const errs: FieldError[] = [];
  const ips = spec.clusterIPs ?? [];
  if (spec.clusterIP && ips.length > 0 && ips[0] !== spec.clusterIP) {
    errs.push(invalid('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  }
  const all = ips.length > 0 ? ips : spec.clusterIP ? [spec.clusterIP] : [];
  all.forEach((ip, i) => {
    const p = index('spec.clusterIPs', i);
    if (ip === 'None') {
      if (i > 0 || all.length > 1)
        errs.push(invalid(p, ip, 'must not be None when there is more than one IP'));
      else if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') {
        errs.push(invalid(p, ip, `may not be set to 'None' for ${spec.type} services`));
      }
    } else if (parseIP(ip) === undefined) {
      errs.push(invalid(p, ip, ipAddressMessage));
    }
  });
  if (all.length > 1) errs.push(tooMany('spec.clusterIPs', all.length, 1));
  for (const [i, fam] of (spec.ipFamilies ?? []).entries()) {
    if (fam !== 'IPv4' && fam !== 'IPv6')
      errs.push(notSupported(index('spec.ipFamilies', i), fam, ['IPv4', 'IPv6']));
  }
  const policy = spec.ipFamilyPolicy;
  if (policy !== undefined && !['SingleStack', 'PreferDualStack', 'RequireDualStack'].includes(policy)) {
    errs.push(
      notSupported('spec.ipFamilyPolicy', policy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']),
    );
  }
  return errs;
}

/** A cluster IP, once allocated, stays: proxies and clients hold on to it. */
export function validateServiceUpdate(next: Service, prev: Service): FieldError[] {
  const errs = [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...validateService(next).filter((e) => !e.field.startsWith('metadata.')),
  ];
  const nt = next.spec?.type;
  const pt = prev.spec?.type;
  if (nt !== 'ExternalName' && pt !== 'ExternalName') {
    const oldIPs = prev.spec?.clusterIPs ?? (prev.spec?.clusterIP ? [prev.spec.clusterIP] : []);
    const newIPs = next.spec?.clusterIPs ?? (next.spec?.clusterIP ? [next.spec.clusterIP] : []);
    oldIPs.forEach((ip, i) => {
      if (newIPs[i] !== undefined && newIPs[i] !== ip)
        errs.push(invalid(index('spec.clusterIPs', i), newIPs, 'may not change once set'));
    });
  }
  return errs;
}

export function validateEndpoints(ep: Endpoints): FieldError[] {
  const errs = validateObjectMeta(ep.metadata, { namespaced: true, name: nameIsDNSSubdomain });
  (ep.subsets ?? []).forEach((s, i) => {
    const sp = index('subsets', i);
    for (const field of ['addresses', 'notReadyAddresses'] as const) {
      (s[field] ?? []).forEach((a, j) => {
        errs.push(...validateIP(a.ip, child(index(child(sp, field), j), 'ip')));
      });
    }
    const ports = s.ports ?? [];
    ports.forEach((p, j) => {
      const pp = index(child(sp, 'ports'), j);
      if (ports.length > 1 && !p.name) errs.push(required(child(pp, 'name')));
      else if (p.name)
        errs.push(...isDNS1123Label(p.name).map((msg) => invalid(child(pp, 'name'), p.name, msg)));
      errs.push(...portNumErrors(p.port, child(pp, 'port')));
      errs.push(...validateProtocol(p.protocol, child(pp, 'protocol')));
    });
  });
  return errs;
}

export function validateEndpointSlice(slice: EndpointSlice): FieldError[] {
  const errs = validateObjectMeta(slice.metadata, { namespaced: true, name: nameIsDNSSubdomain });
  const type = slice.addressType as string;
  const types = ['IPv4', 'IPv6', 'FQDN'];
  if (!type) errs.push(required('addressType'));
  else if (!types.includes(type)) errs.push(notSupported('addressType', type, types));
  (slice.endpoints ?? []).forEach((e, i) => {
    const ap = child(index('endpoints', i), 'addresses');
    const addresses = e.addresses ?? [];
    if (addresses.length === 0) errs.push(required(ap, 'must contain at least 1 address'));
    if (addresses.length > maxAddressesPerEndpoint)
      errs.push(tooMany(ap, addresses.length, maxAddressesPerEndpoint));
    addresses.forEach((a, j) => {
      const p = index(ap, j);
      const ip = parseIP(a);
      if (type === 'FQDN') errs.push(...validateDNS1123Subdomain(a, p));
      else if (ip === undefined || ip.family !== type)
        errs.push(invalid(p, a, `must be a valid ${type} address`));
    });
  });
  (slice.ports ?? []).forEach((p, i) => {
    const pp = index('ports', i);
    if (p.name) errs.push(...isDNS1123Label(p.name).map((msg) => invalid(child(pp, 'name'), p.name, msg)));
    if (p.port !== undefined) errs.push(...portNumErrors(p.port, child(pp, 'port')));
    if (p.protocol !== undefined) errs.push(...validateProtocol(p.protocol, child(pp, 'protocol')));
  });
  return errs;
}

export function validateEndpointSliceUpdate(next: EndpointSlice, prev: EndpointSlice): FieldError[] {
  const errs = [
    ...validateObjectMetaUpdate(next.metadata, prev.metadata),
    ...validateEndpointSlice(next).filter((e) => !e.field.startsWith('metadata.')),
  ];
  if (next.addressType !== prev.addressType)
    errs.push(invalid('addressType', next.addressType, 'field is immutable'));
  return errs;
}
