import type { SnapshotReader } from './registry.js';

export const readRowDataSnapshot: SnapshotReader = (ctx) => {
  return ctx.input.fail('RowData snapshot: not yet');
};
