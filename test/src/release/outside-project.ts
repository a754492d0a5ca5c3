/** The files of the outside project: the README's snippet and a third-party backend with its conformance test. */
import { readFileSync } from 'node:fs';

/** The first ```ts block of the README's "## Use it" section. */
export function useItSnippet(readmeFile: string): string {
  const readme = readFileSync(readmeFile, 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Use it'));
  if (section === undefined) throw new Error(`${readmeFile} has no "## Use it" section`);
  const block = /```ts\n([\s\S]*?)```/.exec(section);
  if (block?.[1] === undefined) throw new Error(`the "Use it" section of ${readmeFile} has no ts code block`);
  return block[1];
}

/** What a user who starts a project would write: strict TypeScript, NodeNext, no skipLibCheck. */
export const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    lib: ['ES2023'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    skipLibCheck: false,
    types: ['node'],
    rootDir: 'src',
    outDir: 'dist',
  },
  include: ['src'],
};

/** A third-party backend as an author would start one: a wrapper around MemoryStateBackend. */
export const MY_BACKEND = `import type {
  KeyedStateBackend, KeyedStateBackendParameters, OperatorStateBackend, OperatorStateBackendParameters, StateBackend,
} from '@flowstate/core';
import { MemoryStateBackend } from '@flowstate/heap';

/** Counts what it creates; the state itself lives in a MemoryStateBackend for now. */
export class MyStateBackend implements StateBackend {
  readonly name = 'my-backend';
  readonly supportsAsynchronousSnapshots = false;
  created = 0;
  private readonly inner = new MemoryStateBackend();

  createKeyedStateBackend<K>(parameters: KeyedStateBackendParameters<K>): Promise<KeyedStateBackend<K>> {
    this.created++;
    return this.inner.createKeyedStateBackend(parameters);
  }

  createOperatorStateBackend(parameters: OperatorStateBackendParameters): Promise<OperatorStateBackend> {
    this.created++;
    return this.inner.createOperatorStateBackend(parameters);
  }
}
`;

export const MY_CONFORMANCE_TEST = `import { runConformance } from '@flowstate/conformance';
import { MyStateBackend } from './my-backend.js';

runConformance({ name: 'MyStateBackend', createBackend: () => new MyStateBackend() });
`;
