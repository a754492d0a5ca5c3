import { assert, assignToKeyGroup, computeOperatorIndexForKeyGroup, DataOutputSerializer } from '@flowstate/core';
import type { ChannelMessage, RecordMessage } from './channel.js';
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
}

export class TaskOutput implements Collector<unknown> {
  /** The timestamp records collected now carry; the task sets it per record, timers per timer. */
  timestamp: number | undefined = undefined;
  private readonly main: Route[] = [];
  private readonly side = new Map<string, Route[]>();
  private readonly keyBuffer = new DataOutputSerializer(64);
  private emitted = 0;

  constructor(
    private readonly all: readonly OutputEdge[],
    subtaskIndex: number,
    private readonly maxParallelism: number,
    /** Called before every record leaves with its number in this attempt (fault injection). */
    private readonly onEmit: ((n: number) => void) | undefined,
  ) {
    for (const edge of all) {
      const route: Route = { edge, rr: subtaskIndex };
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
    for (const o of this.all) for (const c of o.channels) if (!c.hasCredit) return false;
    return true;
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
    const msg: RecordMessage = { kind: 'record', value, timestamp: this.timestamp };
    for (let i = 0; i < routes.length; i++) {
      const route = routes[i]!;
      const o = route.edge;
      const p = o.partitioner;
      switch (p.kind) {
        case 'forward':
          o.channels[0]!.push(msg);
          break;
        case 'rebalance': {
          route.rr = (route.rr + 1) % o.channels.length;
          o.channels[route.rr]!.push(msg);
          break;
        }
        case 'broadcast':
          for (const c of o.channels) c.push(msg);
          break;
        case 'hash': {
          this.keyBuffer.clear();
          p.keySerializer.serialize(p.keySelector(value), this.keyBuffer);
          const kg = assignToKeyGroup(this.keyBuffer.bytesView(), this.maxParallelism);
          o.channels[computeOperatorIndexForKeyGroup(this.maxParallelism, o.consumerParallelism, kg)]!.push(msg);
          break;
        }
        default:
          assert(false, 'unknown partitioner');
      }
    }
  }
}
