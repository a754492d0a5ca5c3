import type { FileSystemRegistry, SerializerSnapshotRegistry } from '@flowstate/core';
import { validateSavepoint, type ValidationReport } from '@flowstate/savepoint';
import { formatValidation } from '../format.js';
import { NATIVE_FORMATS } from '../storages.js';
import type { CheckpointStatus, RootScan } from './root.js';

export interface CheckpointValidation {
  readonly checkpointId: number;
  readonly pointer: string;
  readonly status: CheckpointStatus;
  readonly ok: boolean;
  /** Completed checkpoints: the full check of `flowstate savepoint validate`. */
  readonly report?: ValidationReport;
  /** Incomplete or in-progress ones: why they were not checked further. */
  readonly problem?: string;
}

export interface CheckpointValidateReport {
  readonly ok: boolean;
  readonly root: string;
  readonly checkpoints: readonly CheckpointValidation[];
}

/**
 * Validates completed checkpoints with the savepoint validator (every referenced file, shared ones
 * included: present, size, CRC32C; every key-group block and entry decoded; key-group coverage).
 * Without an id every checkpoint is looked at: an INCOMPLETE one is a finding; one IN_PROGRESS is
 * reported but is no finding (a running job writes one).
 */
export async function validateCheckpoints(
  scan: RootScan,
  checkpointId: number | undefined,
  options: { registry?: SerializerSnapshotRegistry; fileSystems?: FileSystemRegistry; onProgress?: (done: number, total: number) => void },
): Promise<CheckpointValidateReport> {
  const targets = checkpointId === undefined ? scan.checkpoints : scan.checkpoints.filter((c) => c.checkpointId === checkpointId);
  const out: CheckpointValidation[] = [];
  for (const c of targets) {
    const base = { checkpointId: c.checkpointId, pointer: c.pointer, status: c.status };
    if (c.status === 'COMPLETED') {
      const report = await validateSavepoint(c.location, { nativeFormats: NATIVE_FORMATS, ...options });
      out.push({ ...base, ok: report.ok, report });
    } else if (c.status === 'INCOMPLETE') {
      out.push({ ...base, ok: false, problem: c.problem ?? 'incomplete' });
    } else {
      // Asked for by id: it cannot be validated (nothing describes its files).
      out.push({ ...base, ok: checkpointId === undefined, problem: 'no _metadata: in progress, or left by an aborted or crashed checkpoint' });
    }
  }
  return { ok: out.every((c) => c.ok), root: scan.root, checkpoints: out };
}

export function formatCheckpointValidation(r: CheckpointValidateReport): string {
  const out = [`${r.ok ? 'OK' : 'INVALID'}: ${r.root}: ${r.checkpoints.filter((c) => c.status === 'COMPLETED').length} completed checkpoint(s) validated, ${r.checkpoints.filter((c) => !c.ok).length} with problems`];
  for (const c of r.checkpoints) {
    if (c.report !== undefined) out.push(`chk-${c.checkpointId}: ${formatValidation(c.report).replace(/\n/g, '\n  ')}`);
    else out.push(`chk-${c.checkpointId}: ${c.status === 'INCOMPLETE' ? 'INCOMPLETE' : 'IN PROGRESS (not validated)'}: ${c.problem}`);
  }
  return out.join('\n');
}
