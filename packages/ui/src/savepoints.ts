// The savepoint inspector's data: the savepoints below one directory, and the inspection report
// of one of them, produced by @flowstate/savepoint exactly as `flowstate savepoint inspect --json`.
import { childStorageUri, IllegalStateUsageError, storageUri, type FileSystem } from '@flowstate/core';
import { inspectSavepoint, SavepointReader, type InspectReport } from '@flowstate/savepoint';

export interface SavepointListing {
  readonly name: string;
  readonly bytes: number;
}

/** Child directories that hold a `_metadata` file (one level deep, as `state.savepoints.dir` is laid out). */
export async function listSavepoints(fs: FileSystem): Promise<SavepointListing[]> {
  const files = await fs.list('');
  const bytes = new Map<string, number>();
  const withMetadata = new Set<string>();
  for (const f of files) {
    const [name, ...rest] = f.path.split('/');
    if (name === undefined || rest.length === 0) continue;
    bytes.set(name, (bytes.get(name) ?? 0) + f.size);
    if (rest.join('/') === '_metadata') withMetadata.add(name);
  }
  return [...withMetadata].sort().map((name) => ({ name, bytes: bytes.get(name) ?? 0 }));
}

/** Inspects `<location>/<name>`; `name` must be a single path segment. */
export async function inspectSavepointByName(savepoints: { readonly location: string }, name: string): Promise<InspectReport> {
  if (name === '' || name === '.' || name === '..' || /[/\\]/.test(name)) {
    throw new IllegalStateUsageError(undefined, `savepoint name '${name}' is not one directory name`);
  }
  // The name is one path segment, percent-encoded into the location's URI: spliced in as it is,
  // '%2e%2e' would be read as '..' (the directory above) and 'sp%41' as 'spA'.
  const reader = await SavepointReader.load(childStorageUri(storageUri(savepoints.location), name).href);
  await reader.verifyComplete();
  return inspectSavepoint(reader, { scan: true });
}
