import { computeKeyGroupRangeForOperatorIndex, IllegalStateUsageError, type CheckpointMetadata } from '@flowstate/core';

/** One operator of a written savepoint as a restore will run it. */
export interface OperatorLayout {
  readonly uid: string;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyed: boolean;
  /** Keyed operators: the key groups each subtask owns on restore (Flink's KeyGroupRangeAssignment). */
  readonly subtasks: ReadonlyArray<{ readonly subtask: number; readonly keyGroups?: { readonly start: number; readonly end: number } }>;
}

export function layoutOf(metadata: CheckpointMetadata): OperatorLayout[] {
  return metadata.operators.map((op) => {
    const keyed = op.subtasks.some((s) => s.keyed.length > 0);
    const subtasks = Array.from({ length: op.parallelism }, (_, i) => {
      if (!keyed) return { subtask: i };
      const r = computeKeyGroupRangeForOperatorIndex(op.maxParallelism, op.parallelism, i);
      return { subtask: i, keyGroups: { start: r.startKeyGroup, end: r.endKeyGroup } };
    });
    return { uid: op.uid, parallelism: op.parallelism, maxParallelism: op.maxParallelism, keyed, subtasks };
  });
}

export function formatLayout(layout: readonly OperatorLayout[]): string {
  const out: string[] = [];
  for (const op of layout) {
    out.push(`  operator '${op.uid}': parallelism ${op.parallelism}, maxParallelism ${op.maxParallelism}${op.keyed ? '' : ' (no keyed state)'}`);
    for (const s of op.subtasks) if (s.keyGroups !== undefined) out.push(`    subtask ${s.subtask}: key groups ${s.keyGroups.start}-${s.keyGroups.end}`);
  }
  return out.join('\n');
}

/** `--operator-parallelism uid=n` values (repeatable) as a map; a malformed one is a usage error. */
export function parseOperatorParallelism(values: readonly string[] | undefined): Record<string, number> {
  const out = new Map<string, number>();
  for (const v of values ?? []) {
    const cut = v.lastIndexOf('=');
    const uid = v.slice(0, cut);
    const n = v.slice(cut + 1);
    if (cut <= 0 || !/^\d+$/.test(n) || Number(n) < 1 || !Number.isSafeInteger(Number(n))) {
      throw new IllegalStateUsageError(undefined, `--operator-parallelism expects <uid>=<positive integer>, got '${v}'`);
    }
    if (out.has(uid)) throw new IllegalStateUsageError(undefined, `--operator-parallelism names operator '${uid}' twice`);
    out.set(uid, Number(n));
  }
  // Null prototype: a uid such as `constructor` must not find Object.prototype's members.
  return Object.assign(Object.create(null) as Record<string, number>, Object.fromEntries(out));
}
