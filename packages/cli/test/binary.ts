import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Runs the real `flowstate` binary, as a user would (shared by the CLI tests).

export const repo = fileURLToPath(new URL('../../../../', import.meta.url));
export const BIN = join(repo, 'packages/cli/bin/flowstate.js');
export const FIXTURE = join(repo, 'packages/savepoint/test/fixtures/v1');

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function flowstateWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: repo, timeout: 120_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

export function flowstate(...args: string[]): Promise<Result> {
  return flowstateWith({}, ...args);
}

/** The environment with which the binary reaches an s3rver instance (fixed test credentials). */
export function s3rverEnvironment(endpoint: string, accessKeyId: string, secretAccessKey: string): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: 'us-east-1',
    FLOWSTATE_S3_PATH_STYLE: 'true',
    // s3rver does not understand the aws-chunked checksum trailers the SDK adds by default.
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
    AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
  };
}
