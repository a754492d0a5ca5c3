export { runStorageConformance, listStorageConformanceCases, type StorageConformanceOptions, type StorageConformanceTestApi } from './run-storage-conformance.js';
export { STORAGE_CAPABILITIES, type StorageCapability, type StorageCase, type StorageCaseGroup, type StorageSuiteSettings } from './storage-case.js';
export { ESCAPING_PATHS } from './cases/index.js';
export { patternBytes, writePattern, writeBytes, type WrittenFile } from './test-data.js';
export * from './fault-injecting-file-system.js';
