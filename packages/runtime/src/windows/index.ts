export * from './errors.js';
export * from './triggers.js';
export * from './assigners.js';
export * from './merging-window-set.js';
export * from './window-functions.js';
export * from './window-contents.js';
export * from './window-operator.js';
export * from './window-stream-operator.js';
