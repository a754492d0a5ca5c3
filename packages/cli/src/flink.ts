import { FlinkSavepoint, formatFlinkInspect, inspectFlinkSavepoint, isFlinkSavepoint, rescaleFlinkSavepoint } from '@flowstate/flink';

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

/** `flowstate savepoint rescale` on an Apache Flink savepoint: the output is a Flink savepoint. */
export async function rescaleFlinkIfFlink(
  input: string,
  output: string,
  o: { json?: boolean; maxParallelism: number; parallelism?: number; operator?: string[] },
  io: { stdout: (s: string) => void },
): Promise<boolean> {
  if (!(await isFlinkSavepoint(input))) return false;
  const sp = await FlinkSavepoint.load(input);
  const { files } = await rescaleFlinkSavepoint(sp, output, {
    maxParallelism: o.maxParallelism,
    ...(o.parallelism === undefined ? {} : { parallelism: o.parallelism }),
    ...(o.operator === undefined ? {} : { operators: o.operator }),
  });
  io.stdout(o.json === true ? `${JSON.stringify({ directory: output, format: 'apache-flink', files: files.length }, null, 2)}\n` : `rescaled Apache Flink savepoint ${input} to maxParallelism ${o.maxParallelism}: ${output}\n`);
  return true;
}
