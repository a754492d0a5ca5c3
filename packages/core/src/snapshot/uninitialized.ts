/** A new buffer left uninitialized: only bytes read into it are ever handed out, and zeroing would touch every page first. */
export function uninitialized(length: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
}
