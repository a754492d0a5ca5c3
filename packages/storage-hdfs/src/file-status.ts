/** The JSON shapes WebHDFS answers with, parsed defensively: a server is input like any other. */

export type HdfsFileType = 'FILE' | 'DIRECTORY' | 'SYMLINK';

/** The WebHDFS FileStatus JSON object. Fields some servers omit (HttpFS) read as 0 or ''. */
export interface HdfsFileStatus {
  readonly accessTime: number;
  readonly blockSize: number;
  readonly childrenNum: number;
  readonly fileId: number;
  readonly group: string;
  readonly length: number;
  readonly modificationTime: number;
  readonly owner: string;
  /** Name relative to the listed directory; '' for GETFILESTATUS or when a file itself was listed. */
  readonly pathSuffix: string;
  /** Octal string, e.g. '644'. */
  readonly permission: string;
  readonly replication: number;
  readonly storagePolicy: number;
  readonly type: HdfsFileType;
  readonly symlink?: string;
}

export interface HdfsListingPage {
  readonly entries: HdfsFileStatus[];
  /** Entries after this page; 0 on the last page. */
  readonly remainingEntries: number;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function parseFileStatus(v: unknown): HdfsFileStatus | undefined {
  if (!isRecord(v)) return undefined;
  const type = v['type'];
  const length = num(v['length']);
  const pathSuffix = str(v['pathSuffix']);
  if ((type !== 'FILE' && type !== 'DIRECTORY' && type !== 'SYMLINK') || length === undefined || pathSuffix === undefined) return undefined;
  const symlink = str(v['symlink']);
  return {
    accessTime: num(v['accessTime']) ?? 0,
    blockSize: num(v['blockSize']) ?? 0,
    childrenNum: num(v['childrenNum']) ?? 0,
    fileId: num(v['fileId']) ?? 0,
    group: str(v['group']) ?? '',
    length,
    modificationTime: num(v['modificationTime']) ?? 0,
    owner: str(v['owner']) ?? '',
    pathSuffix,
    permission: str(v['permission']) ?? '',
    replication: num(v['replication']) ?? 0,
    storagePolicy: num(v['storagePolicy']) ?? 0,
    type,
    ...(symlink === undefined ? {} : { symlink }),
  };
}
