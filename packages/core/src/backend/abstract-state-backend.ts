import { DefaultOperatorStateBackend } from './operator/default-operator-state-backend.js';
import type { KeyedStateBackend, KeyedStateBackendParameters, OperatorStateBackend, OperatorStateBackendParameters, StateBackend } from './spi.js';

/**
 * A StateBackend whose operator state (list, union, broadcast) is core's heap
 * DefaultOperatorStateBackend, as in Flink for every backend: a backend implements only its keyed state.
 */
export abstract class AbstractStateBackend implements StateBackend {
  abstract readonly name: string;
  abstract readonly supportsAsynchronousSnapshots: boolean;

  abstract createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>>;

  createOperatorStateBackend(parameters: OperatorStateBackendParameters): Promise<OperatorStateBackend> {
    return DefaultOperatorStateBackend.create(parameters);
  }
}
