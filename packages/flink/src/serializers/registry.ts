import { FlinkUnknownSnapshotClassError, FlinkUnsupportedError } from '../errors.js';
import type { JavaDataInput } from '../io/java-input.js';
import type { JavaDataOutput } from '../io/java-output.js';
import type { FlinkSerializerSnapshot, FlinkTypeSerializer } from './types.js';

/** What a snapshot reader returns: the restored serializer, nested snapshots and configuration. */
export interface SnapshotContent {
  readonly serializer: FlinkTypeSerializer;
  readonly nested?: readonly FlinkSerializerSnapshot[];
  readonly config?: Readonly<Record<string, unknown>>;
}

/** Reads the payload of one snapshot class (TypeSerializerSnapshot.readSnapshot of that class). */
export type SnapshotReader = (ctx: SnapshotReadContext) => SnapshotContent;

const MAX_SNAPSHOT_NESTING = 32;
const NESTED_DELEGATE_MAGIC = 1333245;

/** How many nested serializer snapshots a class has: exactly n, or [min, max]. */
export type NestedCount = number | readonly [min: number, max: number];

function countFits(n: number, c: NestedCount): boolean {
  return typeof c === 'number' ? n === c : n >= c[0] && n <= c[1];
}

function describeCount(c: NestedCount): string {
  return typeof c === 'number' ? `${c}` : `${c[0]} to ${c[1]}`;
}

export class SnapshotReadContext {
  constructor(
    readonly input: JavaDataInput,
    readonly className: string,
    readonly version: number,
    readonly registry: FlinkSerializerRegistry,
    readonly depth: number,
  ) {}

  /** A nested snapshot in versioned form (class name, version, payload). */
  readVersioned(): FlinkSerializerSnapshot {
    return this.registry.readVersioned(this.input, this.depth + 1);
  }

  /**
   * NestedSerializersSnapshotDelegate: magic, version 1, i32 n, n versioned snapshots. `count`:
   * how many the class has (a serializer built from fewer would miss one, from more ignore them).
   */
  readNestedDelegate(count?: NestedCount): FlinkSerializerSnapshot[] {
    const at = this.input.position;
    if (this.input.readInt() !== NESTED_DELEGATE_MAGIC) this.input.fail(`bad nested serializer snapshots magic in ${this.className}`, at);
    const v = this.input.readInt();
    if (v !== 1) this.input.fail(`unknown nested serializer snapshots version ${v}`, at + 4);
    const n = this.input.readCount('number of nested serializer snapshots', 6);
    if (count !== undefined && !countFits(n, count)) {
      this.input.fail(`${this.className} with ${n} nested serializer snapshots (Flink writes ${describeCount(count)})`, at + 8);
    }
    const out: FlinkSerializerSnapshot[] = [];
    for (let i = 0; i < n; i++) out.push(this.readVersioned());
    return out;
  }
}

/**
 * Snapshot readers by Java snapshot class name: the plug-in point for user serializers.
 * Flink's snapshot payloads carry no length, so a class without a reader stops the read.
 */
export class FlinkSerializerRegistry {
  private readonly readers: Map<string, SnapshotReader>;

  constructor(readers?: ReadonlyMap<string, SnapshotReader>) {
    this.readers = new Map(readers);
  }

  /** A copy to add readers to (the default registry stays unchanged). */
  extend(): FlinkSerializerRegistry {
    return new FlinkSerializerRegistry(this.readers);
  }

  register(snapshotClassName: string, reader: SnapshotReader): this {
    this.readers.set(snapshotClassName, reader);
    return this;
  }

  has(snapshotClassName: string): boolean {
    return this.readers.has(snapshotClassName);
  }

  /** Versioned form: UTF class name, i32 version, payload. */
  readVersioned(input: JavaDataInput, depth = 0): FlinkSerializerSnapshot {
    if (depth > MAX_SNAPSHOT_NESTING) input.fail(`serializer snapshots nested deeper than ${MAX_SNAPSHOT_NESTING}`);
    const at = input.position;
    const className = input.readUTF();
    const version = input.readInt();
    const reader = this.readers.get(className);
    if (reader === undefined) throw new FlinkUnknownSnapshotClassError(className, input.file, input.baseOffset + at);
    const start = input.position;
    const content = reader(new SnapshotReadContext(input, className, version, this, depth));
    return {
      className,
      version,
      // A copy: the stream it was read from may be released (FlinkSavepoint.releaseStreams) while the header lives on.
      payload: input.bytes.slice(start, input.position),
      nested: content.nested ?? [],
      config: content.config ?? {},
      serializer: content.serializer,
    };
  }

  /** TypeSerializerSnapshotSerializationProxy form (top level of a meta info): i32 2, then versioned. */
  readProxied(input: JavaDataInput): FlinkSerializerSnapshot {
    const at = input.position;
    const v = input.readInt();
    if (v === 1) {
      throw new FlinkUnsupportedError(input.file, 'serializer snapshot proxy version 1 (Java-serialized TypeSerializerConfigSnapshot, refused by Flink >= 1.17 too)', input.baseOffset + at);
    }
    if (v !== 2) input.fail(`unknown serializer snapshot proxy version ${v}`, at);
    return this.readVersioned(input);
  }
}

export function writeVersionedSnapshot(out: JavaDataOutput, s: FlinkSerializerSnapshot): void {
  out.writeUTF(s.className);
  out.writeInt(s.version);
  out.writeBytes(s.payload);
}

export function writeProxiedSnapshot(out: JavaDataOutput, s: FlinkSerializerSnapshot): void {
  out.writeInt(2);
  writeVersionedSnapshot(out, s);
}
