/** The monorepo's workspaces as the release test sees them: name, directory, manifest. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly license?: string;
  readonly repository?: { readonly type?: string; readonly url?: string; readonly directory?: string };
  readonly engines?: { readonly node?: string };
  readonly files?: readonly string[];
  readonly publishConfig?: { readonly access?: string };
  readonly main?: string;
  readonly types?: string;
  readonly exports?: Readonly<Record<string, string | Readonly<Record<string, string>>>>;
  readonly bin?: Readonly<Record<string, string>>;
  readonly scripts?: Readonly<Record<string, string>>;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly peerDependenciesMeta?: Readonly<Record<string, { readonly optional?: boolean }>>;
  readonly workspaces?: readonly string[];
}

export interface Workspace {
  /** Relative to the repository root, e.g. 'packages/core'. */
  readonly dir: string;
  readonly manifest: Manifest;
}

export function readManifest(file: string): Manifest {
  return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
}

export function listWorkspaces(root: string): Workspace[] {
  const rootManifest = readManifest(join(root, 'package.json'));
  return (rootManifest.workspaces ?? []).map((dir) => ({ dir, manifest: readManifest(join(root, dir, 'package.json')) }));
}

export function publicWorkspaces(root: string): Workspace[] {
  return listWorkspaces(root).filter((w) => w.manifest.private !== true);
}
