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
export { startCheckpointUi, type CheckpointUi, type CheckpointUiOptions } from './server.js';
export { inspectSavepointByName, listSavepoints, type InspectSavepointOptions, type SavepointListing } from './savepoints.js';
