import { FlinkSavepoint, formatFlinkInspect, inspectFlinkSavepoint, isFlinkSavepoint } from '@flowstate/flink';

/**
 * `flowstate savepoint inspect` on an Apache Flink savepoint or checkpoint (recognized by the
 * magic number of its `_metadata`). Returns false when `dir` is not one, so the caller goes on
 * with flowstate's own format.
 */
export async function inspectFlinkIfFlink(
  dir: string,
  o: { json?: boolean; scan?: boolean },
  io: { stdout: (s: string) => void },
): Promise<boolean> {
  if (!(await isFlinkSavepoint(dir))) return false;
  const report = await inspectFlinkSavepoint(await FlinkSavepoint.load(dir), { scan: o.scan !== false });
  io.stdout(o.json === true ? `${JSON.stringify(report, null, 2)}\n` : `${formatFlinkInspect(report, dir)}\n`);
  return true;
}
