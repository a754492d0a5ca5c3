import { IdlePool } from '@flowstate/core';
import { JavaDataOutput } from '../io/java-output.js';

/** A CanonicalStreamEncoder hands its pending bytes to its sink once this many are pending (at a key-group boundary). */
export const ENCODER_FLUSH_BYTES = 1 << 20;

/**
 * Capacity of an encoder's output: room for ENCODER_FLUSH_BYTES pending plus a whole key group of
 * up to about as much. A flush happens only at a key-group boundary, and with room for the flush
 * threshold + 64 KiB a key group of a 64 MiB savepoint (~0.5 MiB) grew the buffer once per
 * stream, a zeroed allocation and a copy of the pending megabyte that took ~13% of a Flink
 * savepoint write's CPU (issue 16).
 */
export const ENCODER_OUTPUT_BYTES = 2 * ENCODER_FLUSH_BYTES + (64 << 10);

/** How long the output of a finished encoder waits for the next encoder before it is dropped. */
export const IDLE_ENCODER_OUTPUTS_MS = 1000;

/**
 * Outputs of finished encoders, for the next encoders of this process (the next subtask's stream
 * of the same savepoint, or the next savepoint's). A new output is 2 MiB of fresh memory, a page
 * fault per 4 KiB as it fills (in a VM often one on the host too): a 64 MiB Flink savepoint of 4
 * subtasks written at once spent ~10 ms of its ~90 ms in them (issue 16). Up to 4 are kept, none
 * that grew past ENCODER_OUTPUT_BYTES, each dropped IDLE_ENCODER_OUTPUTS_MS after its give-back.
 */
const idleEncoderOutputs = new IdlePool<JavaDataOutput>({ maxKept: 4, maxBytes: ENCODER_OUTPUT_BYTES, idleMs: IDLE_ENCODER_OUTPUTS_MS, sizeOf: (o) => o.capacity });

/** An idle output, cleared, or a new one; the caller owns it until it gives it back. */
export function takeEncoderOutput(): JavaDataOutput {
  const out = idleEncoderOutputs.take();
  if (out === undefined) return new JavaDataOutput(ENCODER_OUTPUT_BYTES);
  out.clear();
  return out;
}

/** Gives back an output no view of which is used any more (its sink is done with every chunk of it). */
export function giveBackEncoderOutput(out: JavaDataOutput): void {
  idleEncoderOutputs.giveBack(out);
}

/** Drops the idle outputs (tests start from an empty pool). */
export function dropIdleEncoderOutputs(): void {
  idleEncoderOutputs.clear();
}

/** Outputs kept idle now (tests). */
export function idleEncoderOutputCount(): number {
  return idleEncoderOutputs.size;
}
