export * from './errors.js';
export * from './restore.js';
export * from './claim.js';
export * from './discard.js';
export * from './embedded-coordinator.js';
export * from './history.js';
export * from './log.js';
