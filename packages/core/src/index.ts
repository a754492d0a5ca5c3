// `@flowstate/core`: the union of the grouped entry points (`@flowstate/core/state`, `/spi`,
// `/serialization`, `/storage`, `/checkpoint`) plus the shared basics below (typed errors,
// assertions, CRC32C, the seeded PRNG). Kept as the union so that every existing import keeps
// working; new code should prefer the group it needs, which says what it depends on.
export * from './errors.js';
export * from './assert.js';
export * from './checksum.js';
export * from './random.js';
export * from './exports/state.js';
export * from './exports/spi.js';
export * from './exports/serialization.js';
export * from './exports/storage.js';
export * from './exports/checkpoint.js';
