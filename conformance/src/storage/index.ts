export * from './storage-conformance.js';
export * from './fault-injecting-file-system.js';
