/**
 * Builds the package-lock.json of a project outside the repository that depends on the packed
 * tarballs, from the repository's own lock: every third-party package keeps the exact version and
 * integrity the repository installed, so `npm ci --offline` finds all of them in the npm cache
 * and nothing is downloaded. (A plain `npm install --offline` would need the registry's package
 * metadata, which `npm ci` never caches.)
 */
import { relative } from 'node:path';
import type { Manifest } from './workspaces.js';

type LockEntry = Record<string, unknown> & {
  version?: string;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};
export interface PackageLock {
  name?: string;
  lockfileVersion: number;
  requires?: boolean;
  packages: Record<string, LockEntry>;
}

export interface PackedPackage {
  /** Workspace directory in the repository, e.g. 'packages/core'. */
  readonly dir: string;
  readonly manifest: Manifest;
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  /** sha512 SRI of the .tgz, as npm pack reports it. */
  readonly integrity: string;
}

export interface OutsideProject {
  readonly name: string;
  /** Absolute directory of the project (lock paths to tarballs are relative to it). */
  readonly dir: string;
  readonly dependencies: readonly PackedPackage[];
  /** Third-party dev dependencies taken from the repository root (e.g. typescript). */
  readonly devDependencies: readonly string[];
}

/** The lock path a package at `from` would load `dep` from (node's resolution, lock edition). */
function resolveInLock(lock: PackageLock, from: string, dep: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${dep}` : `${base}/node_modules/${dep}`;
    if (lock.packages[candidate]) return candidate;
    if (base === '') return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i >= 0 ? base.slice(0, i) : '';
  }
}

function edges(entry: LockEntry): string[] {
  return [
    ...Object.keys(entry.dependencies ?? {}),
    ...Object.keys(entry.optionalDependencies ?? {}),
    ...Object.keys(entry.peerDependencies ?? {}),
  ];
}

export function buildOfflineLock(repoLock: PackageLock, project: OutsideProject): { manifest: Manifest; lock: PackageLock } {
  const byDir = new Map(project.dependencies.map((p) => [p.dir, p]));
  const ownName = (dir: string): string | undefined => byDir.get(dir)?.manifest.name;
  /** Repository lock path -> path in the outside project's node_modules. */
  const mapPath = (p: string): string => {
    for (const dir of byDir.keys()) {
      if (p.startsWith(`${dir}/node_modules/`)) return `node_modules/${ownName(dir)}${p.slice(dir.length)}`;
    }
    return p;
  };
  const out: Record<string, LockEntry> = {};
  const queue: string[] = [];
  const visit = (from: string, dep: string, optional: boolean): void => {
    const at = resolveInLock(repoLock, from, dep);
    if (at === undefined) {
      if (optional) return; // an optional peer nobody installed
      throw new Error(`release test: '${dep}' needed by '${from || '(root)'}' is not in package-lock.json`);
    }
    const entry = repoLock.packages[at]!;
    if (entry.link) return; // one of ours: its tarball entry is written below
    if (out[mapPath(at)]) return;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    out[mapPath(at)] = kept;
    queue.push(at);
  };
  for (const p of project.dependencies) {
    const m = p.manifest;
    out[`node_modules/${m.name}`] = {
      version: m.version,
      resolved: `file:${relative(project.dir, p.tarball)}`,
      integrity: p.integrity,
      ...(m.license ? { license: m.license } : {}),
      ...(m.dependencies ? { dependencies: { ...m.dependencies } } : {}),
      ...(m.peerDependencies ? { peerDependencies: { ...m.peerDependencies } } : {}),
      ...(m.peerDependenciesMeta ? { peerDependenciesMeta: { ...m.peerDependenciesMeta } } : {}),
      ...(m.bin ? { bin: { ...m.bin } } : {}),
      ...(m.engines ? { engines: { ...m.engines } } : {}),
      ...(m.scripts?.['install'] || m.scripts?.['preinstall'] || m.scripts?.['postinstall'] ? { hasInstallScript: true } : {}),
    };
    const optionalPeers = new Set(Object.entries(m.peerDependenciesMeta ?? {}).filter(([, v]) => v.optional).map(([k]) => k));
    for (const dep of Object.keys(m.dependencies ?? {})) visit(p.dir, dep, false);
    for (const dep of Object.keys(m.peerDependencies ?? {})) if (!optionalPeers.has(dep)) visit(p.dir, dep, false);
  }
  for (const dep of project.devDependencies) visit('', dep, false);
  while (queue.length > 0) {
    const at = queue.shift()!;
    const entry = repoLock.packages[at]!;
    const optional = new Set([...Object.keys(entry.optionalDependencies ?? {}), ...Object.keys((entry['peerDependenciesMeta'] as Record<string, unknown> | undefined) ?? {})]);
    for (const dep of edges(entry)) visit(at, dep, optional.has(dep));
  }
  const dependencies = Object.fromEntries(project.dependencies.map((p) => [p.manifest.name, `file:${relative(project.dir, p.tarball)}`]));
  const devDependencies = Object.fromEntries(project.devDependencies.map((d) => [d, out[`node_modules/${d}`]!.version!]));
  const manifest = { name: project.name, version: '1.0.0', private: true, type: 'module', dependencies, devDependencies } as Manifest;
  const root = { name: project.name, version: '1.0.0', dependencies, devDependencies };
  return { manifest, lock: { name: project.name, lockfileVersion: 3, requires: true, packages: { '': root, ...out } } };
}
