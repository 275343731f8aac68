/**
 * The Table columns of each resource, as `kubectl get` shows them; priority 1 columns
 * appear only with `-o wide`. The cells are computed in table.ts.
 */
import type { TableColumnDefinition } from './types/meta.ts';

type ColumnType = TableColumnDefinition['type'];

function col(
  name: string,
  description: string,
  type: ColumnType = 'string',
  priority = 0,
): TableColumnDefinition {
  return { name, type, format: name === 'Name' ? 'name' : '', description, priority };
}
const wide = (name: string, description: string, type: ColumnType = 'string'): TableColumnDefinition =>
  col(name, description, type, 1);

const name = col('Name', 'The name of the object, unique within its namespace.');
const age = col('Age', 'Time since the object was created.');

export const core = {
  namespaces: [name, col('Status', 'The phase of the namespace: Active or Terminating.'), age],
  pods: [
    name,
    col('Ready', 'Ready containers out of all containers.'),
    col('Status', 'What the pod is doing, as kubectl summarizes it.'),
    col('Restarts', 'Container restarts, with the time since the last one.'),
    age,
    wide('IP', 'The IP address of the pod.'),
    wide('Node', 'The node the pod is bound to.'),
    wide('Nominated Node', 'The node preemption chose for the pod, if any.'),
    wide('Readiness Gates', 'Readiness gates that are true out of all gates.'),
  ],
  nodes: [
    name,
    col('Status', 'Ready or NotReady, and SchedulingDisabled when cordoned.'),
    col('Roles', 'The node-role.kubernetes.io/<role> labels.'),
    age,
    col('Version', 'The version the node agent reports.'),
    wide('Internal-IP', 'The first InternalIP address.'),
    wide('External-IP', 'The first ExternalIP address.'),
    wide('OS-Image', 'The operating system image.'),
    wide('Kernel-Version', 'The kernel version.'),
    wide('Container-Runtime', 'The container runtime and its version.'),
  ],
  services: [
    name,
    col('Type', 'ClusterIP, NodePort, LoadBalancer or ExternalName.'),
    col('Cluster-IP', 'The virtual IP of the service, None when headless.'),
    col('External-IP', 'External addresses of the service.'),
    col('Port(s)', 'port[:nodePort]/protocol for each port.'),
    age,
    wide('Selector', 'The label selector of the pods behind the service.'),
  ],
  endpoints: [name, col('Endpoints', 'The first ready addresses with their ports.'), age],
  configmaps: [name, col('Data', 'The number of keys.', 'integer'), age],
  secrets: [name, col('Type', 'The type of the secret.'), col('Data', 'The number of keys.', 'integer'), age],
  events: [
    col('Last Seen', 'Time since the event was last seen.'),
    col('Type', 'Normal or Warning.'),
    col('Reason', 'A short, machine-readable reason.'),
    col('Object', 'The object the event is about, kind/name.'),
    wide('Subobject', 'The part of the object, e.g. a container.'),
    wide('Source', 'The component that reported the event.'),
    col('Message', 'What happened.'),
    wide('First Seen', 'Time since the event was first seen.'),
    wide('Count', 'How many times it happened.', 'integer'),
    wide('Name', 'The name of the event object.'),
  ],
  persistentvolumes: [
    name,
    col('Capacity', 'The storage capacity.'),
    col('Access Modes', 'RWO, ROX, RWX, RWOP.'),
    col('Reclaim Policy', 'What happens to the volume when its claim is released.'),
    col('Status', 'The phase of the volume.'),
    col('Claim', 'namespace/name of the bound claim.'),
    col('StorageClass', 'The storage class of the volume.'),
    col('Reason', 'Why the volume is in its phase.'),
    age,
    wide('VolumeMode', 'Filesystem or Block.'),
  ],
  persistentvolumeclaims: [
    name,
    col('Status', 'The phase of the claim.'),
    col('Volume', 'The bound volume.'),
    col('Capacity', 'The capacity of the bound volume.'),
    col('Access Modes', 'RWO, ROX, RWX, RWOP.'),
    col('StorageClass', 'The storage class requested.'),
    age,
    wide('VolumeMode', 'Filesystem or Block.'),
  ],
} as const satisfies Readonly<Record<string, readonly TableColumnDefinition[]>>;

export const apps = {
  deployments: [
    name,
    col('Ready', 'Ready replicas out of desired replicas.'),
    col('Up-to-date', 'Replicas running the current pod template.', 'integer'),
    col('Available', 'Replicas available to users.', 'integer'),
    age,
    wide('Containers', 'Container names of the pod template.'),
    wide('Images', 'Container images of the pod template.'),
    wide('Selector', 'The label selector of the pods.'),
  ],
  replicasets: [
    name,
    col('Desired', 'Desired replicas.', 'integer'),
    col('Current', 'Replicas that exist.', 'integer'),
    col('Ready', 'Ready replicas.', 'integer'),
    age,
    wide('Containers', 'Container names of the pod template.'),
    wide('Images', 'Container images of the pod template.'),
    wide('Selector', 'The label selector of the pods.'),
  ],
  leases: [name, col('Holder', 'The identity holding the lease.'), age],
  endpointslices: [
    name,
    col('AddressType', 'IPv4, IPv6 or FQDN.'),
    col('Ports', 'The first ports.'),
    col('Endpoints', 'The first addresses.'),
    age,
  ],
} as const satisfies Readonly<Record<string, readonly TableColumnDefinition[]>>;

/** What Kubernetes prints for resources without columns of their own. */
export const defaultColumns: readonly TableColumnDefinition[] = [
  name,
  { name: 'Created At', type: 'date', format: '', description: 'When the object was created.', priority: 0 },
];
