export * from './indexed-heap.js';
export * from './key-group-queue.js';
export * from './key-group-partitioned-queue.js';
export * from './heap-key-group-queue.js';
export * from './priority-queue-states.js';
export * from './heap-priority-queues.js';
export * from './queue-stream.js';
