import { readJavaSerializationStream, type JavaObject, type JavaValue } from './serialization.js';

/** What a V4+ `_metadata` says about itself (runtime/checkpoint/CheckpointProperties). */
export interface FlinkCheckpointProperties {
  /** 'SAVEPOINT' or 'CHECKPOINT' (from the SnapshotType class). */
  readonly kind: 'SAVEPOINT' | 'CHECKPOINT' | 'UNKNOWN';
  /** Savepoints: CANONICAL or NATIVE (SavepointFormatType). */
  readonly formatType?: string;
  /** The snapshot type's name ("Savepoint", "Checkpoint", "Suspend Savepoint", ...). */
  readonly typeName?: string;
  /** Savepoints: NO_ACTION / SUSPEND / TERMINATE (PostCheckpointAction), when present. */
  readonly postCheckpointAction?: string;
  readonly forced?: boolean;
  /** Primitive fields of CheckpointProperties as written (discardSubsumed, ...). */
  readonly flags: Record<string, boolean | number | string>;
}

function asObject(v: JavaValue | undefined): JavaObject | undefined {
  return typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'object' ? v : undefined;
}

function enumConstant(v: JavaValue | undefined): string | undefined {
  return typeof v === 'object' && v !== null && 'kind' in v && v.kind === 'enum' ? v.constant : undefined;
}

/** Walks the Java-serialized CheckpointProperties (bounded; no class is loaded or instantiated). */
export function parseCheckpointProperties(bytes: Uint8Array, file: string, baseOffset = 0): FlinkCheckpointProperties {
  const top = readJavaSerializationStream(bytes, file, baseOffset);
  const props = asObject(top[0]);
  if (props === undefined || !props.className.endsWith('CheckpointProperties')) return { kind: 'UNKNOWN', flags: {} };
  const flags: Record<string, boolean | number | string> = {};
  for (const [k, v] of Object.entries(props.fields)) {
    if (typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') flags[k] = v;
  }
  const type = asObject(props.fields['checkpointType']);
  const cls = type?.className ?? '';
  const kind = cls.endsWith('SavepointType') ? 'SAVEPOINT' : cls.endsWith('CheckpointType') ? 'CHECKPOINT' : 'UNKNOWN';
  const typeName = type?.fields['name'];
  const formatType = enumConstant(type?.fields['formatType']);
  const postCheckpointAction = enumConstant(type?.fields['postCheckpointAction']);
  const forced = props.fields['forced'];
  return {
    kind,
    flags,
    ...(typeof typeName === 'string' ? { typeName } : {}),
    ...(formatType === undefined ? {} : { formatType }),
    ...(postCheckpointAction === undefined ? {} : { postCheckpointAction }),
    ...(typeof forced === 'boolean' ? { forced } : {}),
  };
}
