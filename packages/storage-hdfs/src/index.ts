export * from './errors.js';
export * from './webhdfs-client.js';
export * from './webhdfs-file-system.js';
