import { errorClass } from '@flowstate/core';

/** The page's server cannot listen on the port asked for (in use, not a TCP port, not permitted). */
export class CheckpointUiPortError extends errorClass('UI_PORT', ['port'], (port: number, detail: string) => `cannot serve the checkpoint UI on 127.0.0.1 port ${port}: ${detail}`) {}
