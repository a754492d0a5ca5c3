/**
 * Capabilities a backend may declare not applicable. Kept deliberately small: everything else in
 * the suite is the contract every backend must meet. A case that exercises a capability declared
 * not applicable is registered as skipped, with the backend's stated reason, never as passed.
 */
export type ConformanceCapability = 'asyncSnapshots' | 'rescaling' | 'serializerMigration' | 'operatorState';

export const CONFORMANCE_CAPABILITIES: Readonly<Record<ConformanceCapability, string>> = Object.freeze({
  asyncSnapshots:
    'The asynchronous part of snapshot() runs after snapshot() returns and can be cancelled while it writes. ' +
    'Declaring it not applicable skips the strict cancellation case and lets cancel() right after snapshot() ' +
    'resolve instead of reject. Isolation of later writes and concurrent snapshots are still tested: a ' +
    'synchronous backend meets them trivially, and must.',
  rescaling:
    'Restoring keyed state at another parallelism: each new subtask receives every old handle and keeps ' +
    'the key groups that intersect its range.',
  serializerMigration:
    'Restoring state whose serializer snapshot resolves to COMPATIBLE_AFTER_MIGRATION (a V1 record read ' +
    'back in V2 shape). Incompatible serializers must fail with StateMigrationError regardless: that is ' +
    'safety, not a capability.',
  operatorState: 'createOperatorStateBackend: list (even split), union and broadcast operator state.',
});

export function isConformanceCapability(value: string): value is ConformanceCapability {
  return Object.prototype.hasOwnProperty.call(CONFORMANCE_CAPABILITIES, value);
}
