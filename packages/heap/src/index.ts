export { MemoryStateBackend, FsStateBackend } from './backends.js';
export { HeapKeyedStateBackend, type HeapKeyedStateBackendOptions } from './heap-keyed-state-backend.js';
