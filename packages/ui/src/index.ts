export { CheckpointUiBusyError, CheckpointUiCancelledError, CheckpointUiPortError } from './errors.js';
export {
  loadCheckpointsOverview,
  persistedHistory,
  type CheckpointHistorySource,
  type CheckpointsOverview,
  type CheckpointView,
  type FileView,
  type OperatorView,
  type SubtaskView,
} from './overview.js';
export { INTERNAL_ERROR_CODE, startCheckpointUi, type CheckpointUi, type CheckpointUiOptions } from './server.js';
export {
  inspectSavepointByName,
  listSavepoints,
  MAX_LISTED_FILES,
  MAX_LISTED_SAVEPOINTS,
  type InspectSavepointOptions,
  type SavepointList,
  type SavepointListing,
  type SavepointListLimits,
} from './savepoints.js';
