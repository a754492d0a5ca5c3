import { IllegalStateUsageError } from '../errors.js';
import type { DataInputDeserializer } from '../io/data-input.js';
import type { DataOutputSerializer } from '../io/data-output.js';
import { ImmutableSerializer } from '../serialization/primitives.js';

/**
 * Window namespaces (Flink's TimeWindow and GlobalWindow). They live in core, not in the runtime,
 * because keyed backends store them as namespaces and restore them by their serializer's type id:
 * every tool that reads a checkpoint with window state must know them.
 */

/** A window: the namespace of the state and timers of its contents. */
export interface Window {
  /** The largest timestamp that still belongs to the window. */
  maxTimestamp(): number;
  /** A string equal for equal windows, to use windows as Map keys. */
  readonly id: string;
}

/** The time interval [start, end). Immutable, so backends keep it without copying. */
export class TimeWindow implements Window {
  readonly id: string;

  constructor(
    readonly start: number,
    readonly end: number,
  ) {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) {
      throw new IllegalStateUsageError(undefined, `time window bounds must be safe integers, got [${start}, ${end})`);
    }
    this.id = `${start}:${end}`;
    Object.freeze(this);
  }

  maxTimestamp(): number {
    return this.end - 1;
  }

  equals(other: TimeWindow): boolean {
    return this.start === other.start && this.end === other.end;
  }

  /** Overlapping or adjacent: such windows merge (Flink's TimeWindow.intersects). */
  intersects(other: TimeWindow): boolean {
    return this.start <= other.end && this.end >= other.start;
  }

  /** The smallest window that covers both. */
  cover(other: TimeWindow): TimeWindow {
    return new TimeWindow(Math.min(this.start, other.start), Math.max(this.end, other.end));
  }

  toString(): string {
    return `TimeWindow{start=${this.start}, end=${this.end}}`;
  }

  /** The start of the window of `size` (aligned to `offset`) that contains `timestamp`. */
  static getWindowStartWithOffset(timestamp: number, offset: number, size: number): number {
    const remainder = (timestamp - offset) % size;
    // JS % keeps the dividend's sign, as Java's does: negative remainders align downwards.
    return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
  }

  /**
   * Merges overlapping windows (Flink's TimeWindow.mergeWindows): sorted by start, each run of
   * intersecting windows becomes one covering window. `merge` hears only runs of two or more.
   */
  static mergeWindows(windows: readonly TimeWindow[], merge: (toBeMerged: TimeWindow[], mergeResult: TimeWindow) => void): void {
    const sorted = [...windows].sort((a, b) => a.start - b.start || a.end - b.end);
    let current: TimeWindow | undefined;
    let group: TimeWindow[] = [];
    const flush = () => {
      if (current !== undefined && group.length > 1) merge(group, current);
    };
    for (const w of sorted) {
      if (current !== undefined && current.intersects(w)) {
        current = current.cover(w);
        group.push(w);
      } else {
        flush();
        current = w;
        group = [w];
      }
    }
    flush();
  }
}

/** The one window of everything (Flink's GlobalWindow); it never ends. */
export class GlobalWindow implements Window {
  static readonly INSTANCE = new GlobalWindow();
  readonly id = 'global';

  private constructor() {
    Object.freeze(this);
  }

  maxTimestamp(): number {
    return Number.MAX_SAFE_INTEGER;
  }

  toString(): string {
    return 'GlobalWindow';
  }
}

const TWO_32 = 4294967296;

/** A safe integer as Java's long: 8 bytes, big-endian two's complement (Flink's layout). */
function writeLong(out: DataOutputSerializer, v: number): void {
  const hi = Math.floor(v / TWO_32);
  out.writeInt32(hi);
  out.writeUint32(v - hi * TWO_32);
}

function readLong(input: DataInputDeserializer, what: string): number {
  const hi = input.readInt32();
  const v = hi * TWO_32 + input.readUint32();
  if (!Number.isSafeInteger(v)) input.fail(`${what} ${v} is outside the safe integer range`);
  return v;
}

/** start and end as two longs, as Flink's TimeWindow.Serializer writes them. */
export class TimeWindowSerializer extends ImmutableSerializer<TimeWindow> {
  static readonly INSTANCE = new TimeWindowSerializer();
  readonly typeId = 'time-window';

  serialize(value: TimeWindow, out: DataOutputSerializer): void {
    if (!(value instanceof TimeWindow)) throw new IllegalStateUsageError(undefined, `time-window serializer got ${String(value)}`);
    writeLong(out, value.start);
    writeLong(out, value.end);
  }

  deserialize(input: DataInputDeserializer): TimeWindow {
    const start = readLong(input, 'time window start');
    const end = readLong(input, 'time window end');
    return new TimeWindow(start, end);
  }
}

/** One zero byte, as Flink's GlobalWindow.Serializer writes. */
export class GlobalWindowSerializer extends ImmutableSerializer<GlobalWindow> {
  static readonly INSTANCE = new GlobalWindowSerializer();
  readonly typeId = 'global-window';

  serialize(value: GlobalWindow, out: DataOutputSerializer): void {
    if (value !== GlobalWindow.INSTANCE) throw new IllegalStateUsageError(undefined, `global-window serializer got ${String(value)}`);
    out.writeUint8(0);
  }

  deserialize(input: DataInputDeserializer): GlobalWindow {
    const b = input.readUint8();
    if (b !== 0) input.fail(`global window byte is ${b}, expected 0`);
    return GlobalWindow.INSTANCE;
  }
}
