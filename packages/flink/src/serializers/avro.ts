import type { SnapshotReader } from './registry.js';
import { opaqueSerializer } from './composite.js';

export const readAvroSnapshot: SnapshotReader = (ctx) => {
  return ctx.input.fail('Avro snapshot: not yet');
};
void opaqueSerializer;
