import { errorClass } from '@flowstate/core';

/** The page's server cannot listen on the port asked for (in use, not a TCP port, not permitted). */
export class CheckpointUiPortError extends errorClass('UI_PORT', ['port'], (port: number, detail: string) => `cannot serve the checkpoint UI on 127.0.0.1 port ${port}: ${detail}`) {}

/** Every savepoint scan slot is taken: the request is refused (HTTP 503 with Retry-After), not queued. */
export class CheckpointUiBusyError extends errorClass('UI_BUSY', ['limit'], (limit: number) => `the checkpoint UI is already inspecting ${limit} savepoints (its limit): try again shortly`) {}

/** A savepoint scan stopped because its client went away or the UI is closing. */
export class CheckpointUiCancelledError extends errorClass('UI_CANCELLED', ['reason'], (reason: string) => `savepoint inspection cancelled: ${reason}`) {}
