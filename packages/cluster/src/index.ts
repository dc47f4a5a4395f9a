// @cairn/cluster — cluster mode through etcd.
//
// createEtcdPublisher() is a headhunter CheckpointPublisher whose "who
// published checkpoint N" is decided by an etcd compare-and-swap instead of a
// create-if-absent PUT, so that fencing is strict on object stores whose
// conditional PUTs are not atomic (OpenStack Swift). The record bytes stay in
// the object store; etcd holds, per volume, the pointer to the newest record
// and one history entry per kept record, each with the record's sha256.
// acquireOwnerLease() holds a volume's owner key under an etcd lease; given
// to the publisher, it also fences a process whose lease expired.
// docs/operations.md "Fencing on Swift" says how to turn it on.

export { connectEtcd, etcdFailure, DEFAULT_ETCD_PREFIX, DEFAULT_ETCD_TIMEOUT_MS, type EtcdConnectOptions } from './etcd.js';
export { createEtcdPublisher, type EtcdPublisher, type EtcdPublisherOptions } from './publisher.js';
export { acquireOwnerLease, readOwner, DEFAULT_LEASE_TTL_SECONDS, type OwnerLease, type OwnerLeaseOptions } from './lease.js';
export { volumeKeys, recordObjectName, parseRecordObjectName, type RecordRef } from './layout.js';
export type { Etcd3 } from 'etcd3';
