import { IllegalStateUsageError, TtlConfigError } from '../errors.js';
import { ListSerializer, MapSerializer } from '../serialization/collections.js';
import type { TypeSerializer } from '../serialization/type-serializer.js';
import type {
  AggregateFunction,
  AggregatingState,
  ListState,
  MapState,
  ReduceFunction,
  ReducingState,
  State,
  ValueState,
} from './state.js';
import type { StateTtlConfig } from './ttl.js';
import { validateTtlConfig } from './ttl-config.js';

export type StateKind = 'VALUE' | 'LIST' | 'MAP' | 'REDUCING' | 'AGGREGATING';

/** The stable numeric codes of state kinds in checkpoint files. */
export const STATE_KIND_CODES: Readonly<Record<SnapshotStateKind, number>> = { VALUE: 1, LIST: 2, MAP: 3, REDUCING: 4, AGGREGATING: 5, PRIORITY_QUEUE: 6 };

/**
 * What a keyed snapshot holds per state: a keyed state of one of the descriptor kinds, or a
 * priority queue (timers; Flink's BackendStateType.PRIORITY_QUEUE), which has no descriptor.
 */
export type SnapshotStateKind = StateKind | 'PRIORITY_QUEUE';

export function stateKindFromCode(code: number): SnapshotStateKind | undefined {
  for (const [k, v] of Object.entries(STATE_KIND_CODES)) if (v === code) return k as SnapshotStateKind;
  return undefined;
}

/**
 * Describes a state: its name, kind and the serializer of the value stored per (key, namespace).
 * `S` is the state interface it produces; `V` is the stored value type.
 */
export abstract class StateDescriptor<S extends State, V> {
  abstract readonly kind: StateKind;
  /** Phantom field carrying the state type for inference; never set. */
  declare readonly __state?: S;
  private ttlConfig: StateTtlConfig | undefined;

  constructor(
    readonly name: string,
    /** Serializer of the value stored per key and namespace (a list, a map, or the value). */
    readonly serializer: TypeSerializer<V>,
  ) {
    if (typeof name !== 'string' || name.length === 0) throw new IllegalStateUsageError(undefined, 'state name must be a non-empty string');
  }

  /** The state's time-to-live, if enabled (see enableTimeToLive). */
  get ttl(): StateTtlConfig | undefined {
    return this.ttlConfig;
  }

  /**
   * Enables time-to-live for this state (Flink's StateDescriptor.enableTimeToLive). The config is
   * validated (TtlConfigError) and frozen. Set it before the descriptor is first used: a backend
   * reads it when the state is registered.
   */
  enableTimeToLive(config: StateTtlConfig): this {
    const valid = validateTtlConfig(config, this.name);
    this.checkTtlAllowed();
    this.ttlConfig = valid;
    return this;
  }

  /** Kinds that cannot have TTL override this. */
  protected checkTtlAllowed(): void {}
}

export class ValueStateDescriptor<T> extends StateDescriptor<ValueState<T>, T> {
  readonly kind = 'VALUE' as const;
  constructor(
    name: string,
    serializer: TypeSerializer<T>,
    /** Returned (as a copy, per key) by value() when the key has no value. */
    readonly defaultValue: T | null = null,
  ) {
    super(name, serializer);
  }

  /** As in Flink: an expired value reads as null, so a default value would be ambiguous. */
  protected override checkTtlAllowed(): void {
    if (this.defaultValue !== null && this.defaultValue !== undefined) throw new TtlConfigError(this.name, 'the state default value and TTL are not compatible (Flink refuses them too)');
  }
}

export class ListStateDescriptor<T> extends StateDescriptor<ListState<T>, T[]> {
  readonly kind = 'LIST' as const;
  constructor(
    name: string,
    readonly elementSerializer: TypeSerializer<T>,
  ) {
    super(name, new ListSerializer(elementSerializer));
  }
  get listSerializer(): ListSerializer<T> {
    return this.serializer as ListSerializer<T>;
  }
}

export class MapStateDescriptor<K, V> extends StateDescriptor<MapState<K, V>, Map<K, V | null>> {
  readonly kind = 'MAP' as const;
  constructor(
    name: string,
    readonly userKeySerializer: TypeSerializer<K>,
    readonly userValueSerializer: TypeSerializer<V>,
  ) {
    super(name, new MapSerializer(userKeySerializer, userValueSerializer));
  }
  get mapSerializer(): MapSerializer<K, V> {
    return this.serializer as MapSerializer<K, V>;
  }
}

export class ReducingStateDescriptor<T> extends StateDescriptor<ReducingState<T>, T> {
  readonly kind = 'REDUCING' as const;
  constructor(
    name: string,
    readonly reduceFunction: ReduceFunction<T>,
    serializer: TypeSerializer<T>,
  ) {
    super(name, serializer);
  }
}

export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptor<AggregatingState<IN, OUT>, ACC> {
  readonly kind = 'AGGREGATING' as const;
  constructor(
    name: string,
    readonly aggregateFunction: AggregateFunction<IN, ACC, OUT>,
    accumulatorSerializer: TypeSerializer<ACC>,
  ) {
    super(name, accumulatorSerializer);
  }
}

/** Any descriptor; used where the backend dispatches on `kind`. */
export type AnyStateDescriptor =
  | ValueStateDescriptor<unknown>
  | ListStateDescriptor<unknown>
  | MapStateDescriptor<unknown, unknown>
  | ReducingStateDescriptor<unknown>
  | AggregatingStateDescriptor<unknown, unknown, unknown>;
