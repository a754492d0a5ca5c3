import { AlternatingReadBuffers } from '@flowstate/core';

/** How long the read buffers of a finished keyed read wait for the next read before they are dropped. */
export const IDLE_READ_BUFFERS_MS = 1000;

/**
 * The read buffers (two of up to COALESCED_READ_BYTES each) of the last finished keyed read, of any
 * reader of this process. A keyed read that found none allocated 16 MiB of fresh memory, a page
 * fault per 4 KiB (in a VM, often a fault on the host too): a program that reads savepoints one
 * after the other (a CLI, a test suite, validation after a write) paid that for every reader.
 * One pair is kept, and only for IDLE_READ_BUFFERS_MS after its read finished: a process that
 * stopped reading holds no read buffers beyond that.
 */
let idle: AlternatingReadBuffers | undefined;
let release: ReturnType<typeof setTimeout> | undefined;

/** The idle buffers of a finished read, or new ones; the caller owns them until it gives them back. */
export function takeReadBuffers(): AlternatingReadBuffers {
  const buffers = idle ?? new AlternatingReadBuffers();
  idle = undefined;
  return buffers;
}

/** Gives back the buffers of a read that is done with them (nothing reads into them any more). */
export function giveBackReadBuffers(buffers: AlternatingReadBuffers): void {
  idle = buffers;
  if (release !== undefined) clearTimeout(release);
  release = setTimeout(() => {
    idle = undefined;
    release = undefined;
  }, IDLE_READ_BUFFERS_MS);
  // The timer never keeps the process alive.
  release.unref?.();
}
