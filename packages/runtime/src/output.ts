import { assert, assignToKeyGroup, computeOperatorIndexForKeyGroup, DataOutputSerializer, primitiveKeyGroupFor, type PrimitiveKeyGroup, type TypeSerializer } from '@flowstate/core';
import type { Channel, ChannelMessage } from './channel.js';
import type { Collector } from './functions.js';
import type { OutputTag } from './side-output.js';
import type { OutputEdge } from './task-protocol.js';

/**
 * The output of one task: partitions records over the consumers of its main output and of its
 * side outputs, stamps them with the current timestamp (Flink's TimestampedCollector: the input
 * record's, or the firing timer's), and sends events (watermarks, barriers) to every channel.
 */
/** An output edge and where its round robin stands. */
interface Route {
  readonly edge: OutputEdge;
  rr: number;
  /** Hash edges with a primitive key type: the key group straight from the key (no serialization). */
  readonly keyGroup: PrimitiveKeyGroup | undefined;
}

export class TaskOutput implements Collector<unknown> {
  /** The timestamp records collected now carry; the task sets it per record, timers per timer. */
  timestamp: number | undefined = undefined;
  private readonly main: Route[] = [];
  private readonly side = new Map<string, Route[]>();
  private readonly keyBuffer = new DataOutputSerializer(64);
  private emitted = 0;
  /**
   * Records added to channels so far (a broadcast counts once per channel). Each add uses one
   * credit of one channel, so after `credit` adds since it was read every channel still had
   * credit before the last: the task's batch loop checks its credit in O(1) per record.
   */
  private sent = 0;
  /** hasCredit's last reading of `credit`, and `sent` at that time. */
  private budget = 0;
  private budgetBase = 0;
  private readonly channels: readonly Channel[];

  constructor(
    private readonly all: readonly OutputEdge[],
    subtaskIndex: number,
    private readonly maxParallelism: number,
    /** Called before every record leaves with its number in this attempt (fault injection). */
    private readonly onEmit: ((n: number) => void) | undefined,
  ) {
    this.channels = all.flatMap((o) => o.channels);
    for (const edge of all) {
      const p = edge.partitioner;
      const route: Route = { edge, rr: subtaskIndex, keyGroup: p.kind === 'hash' ? primitiveKeyGroupFor(p.keySerializer.typeId) : undefined };
      if (edge.sideOutput === undefined) {
        this.main.push(route);
        continue;
      }
      const list = this.side.get(edge.sideOutput) ?? [];
      list.push(route);
      this.side.set(edge.sideOutput, list);
    }
  }

  /** True when every output channel has credit: the task may read its next input record. */
  get available(): boolean {
    const cs = this.channels;
    for (let i = 0; i < cs.length; i++) if (!cs[i]!.hasCredit) return false;
    return true;
  }

  /**
   * Records the task may add to its channels before one of them can be out of credit: the
   * smallest credit of its channels (≤ 0 when one is out of credit after a fan-out), and
   * unbounded for a task without outputs.
   */
  private get credit(): number {
    let min = Number.MAX_SAFE_INTEGER;
    const cs = this.channels;
    for (let i = 0; i < cs.length; i++) min = Math.min(min, cs[i]!.credit);
    return min;
  }

  /**
   * Whether every channel has room for one more record, as `available`, in O(1) amortized: the
   * channels are read again only after as many adds as the smallest credit read last. Credit only
   * grows while nothing is added, so an old reading is still a safe lower bound.
   */
  hasCredit(): boolean {
    if (this.sent - this.budgetBase < this.budget) return true;
    this.budget = this.credit;
    this.budgetBase = this.sent;
    return this.budget > 0;
  }

  collect(value: unknown): void {
    this.emitTo(this.main, value);
  }

  /** To the side output `tag`; dropped when no stream consumes it (as in Flink). */
  output<T>(tag: OutputTag<T>, value: T): void {
    const edges = this.side.get(tag.id);
    if (edges !== undefined) this.emitTo(edges, value);
  }

  broadcast(message: ChannelMessage): void {
    for (const o of this.all) for (const c of o.channels) c.push(message);
  }

  private emitTo(routes: readonly Route[], value: unknown): void {
    if (this.onEmit !== undefined) this.onEmit(++this.emitted);
    const ts = this.timestamp;
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      const o = route.edge;
      const p = o.partitioner;
      switch (p.kind) {
        case 'forward':
          this.sent++;
          o.channels[0]!.add(value, ts);
          break;
        case 'rebalance': {
          route.rr = (route.rr + 1) % o.channels.length;
          this.sent++;
          o.channels[route.rr]!.add(value, ts);
          break;
        }
        case 'broadcast':
          this.sent += o.channels.length;
          for (const c of o.channels) c.add(value, ts);
          break;
        case 'hash': {
          const kg = this.keyGroupOf(route, p.keySelector(value), p.keySerializer);
          this.sent++;
          o.channels[computeOperatorIndexForKeyGroup(this.maxParallelism, o.consumerParallelism, kg)]!.add(value, ts);
          break;
        }
        default:
          assert(false, 'unknown partitioner');
      }
    }
  }

  /** The key group of `key`; the primitive fast path gives exactly the serialized path's (pinned in core's key-group tests). */
  private keyGroupOf(route: Route, key: unknown, serializer: TypeSerializer<unknown>): number {
    if (route.keyGroup !== undefined) {
      const g = route.keyGroup(key, this.maxParallelism);
      if (g >= 0) return g;
    }
    this.keyBuffer.clear();
    serializer.serialize(key, this.keyBuffer);
    return assignToKeyGroup(this.keyBuffer.bytesView(), this.maxParallelism);
  }
}
