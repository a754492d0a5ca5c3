import type { ConformanceGroup } from '../registry.js';
import { concurrentCheckpointsGroup } from './concurrent-checkpoints.js';
import { corruptionGroup } from './corruption.js';
import { keysNamespacesGroup } from './keys-namespaces.js';
import { listStateGroup } from './list-state.js';
import { localFilesGroup } from './local-files.js';
import { mapStateGroup } from './map-state.js';
import { operatorStateGroup } from './operator-state.js';
import { priorityQueueGroup } from './priority-queue.js';
import { reducingAggregatingGroup } from './reducing-aggregating-state.js';
import { rescalingGroup } from './rescaling.js';
import { serializersGroup } from './serializers.js';
import { snapshotLifecycleGroup } from './snapshot-lifecycle.js';
import { snapshotRunnerGroup } from './snapshot-runner.js';
import { valueStateGroup } from './value-state.js';
import { ttlCleanupGroup } from './ttl-cleanup.js';
import { ttlSemanticsGroup } from './ttl-semantics.js';

/** Registration order: simple state kinds first, so that a broken backend fails where it is plainest. */
export const CONFORMANCE_GROUPS: readonly ConformanceGroup[] = [
  valueStateGroup,
  listStateGroup,
  reducingAggregatingGroup,
  mapStateGroup,
  ttlSemanticsGroup,
  ttlCleanupGroup,
  keysNamespacesGroup,
  rescalingGroup,
  priorityQueueGroup,
  serializersGroup,
  snapshotLifecycleGroup,
  snapshotRunnerGroup,
  concurrentCheckpointsGroup,
  corruptionGroup,
  localFilesGroup,
  operatorStateGroup,
];
