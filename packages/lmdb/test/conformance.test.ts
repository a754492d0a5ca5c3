import { runConformance } from '@flowstate/conformance';
import { LmdbStateBackend } from '@flowstate/lmdb';

// Every case applies: snapshots are asynchronous (read transaction), canonical (so rescaling and
// serializer migration are core's), and operator state is core's DefaultOperatorStateBackend.
runConformance({
  name: 'LmdbStateBackend',
  createBackend: () => new LmdbStateBackend(),
});
