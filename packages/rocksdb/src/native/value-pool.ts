// Where RocksDB.get() puts the values it returns: the native get copies a value straight into the
// current pool at its free offset, and the value handed out is a view of those bytes. Each value
// owns its bytes (nothing else is ever written there), so callers see an ordinary Uint8Array; only
// its `.buffer` is shared with other values, as with Node's pooled Buffers. A view costs a typed
// array object; a slice or a native Buffer would cost an ArrayBuffer with its own backing store.

/** Bytes per pool: a long-lived value keeps at most this much alive. */
const POOL_BYTES = 16 * 1024;
/** A new pool is started once less than this is free, so values up to this size always fit. */
const MIN_FREE = 2 * 1024;

/** @internal The pool RocksDB.get() reads into. */
export class ValuePool {
  /** The current pool; the native get writes at `offset`. */
  bytes = new Uint8Array(POOL_BYTES);
  offset = 0;

  /** The `length` bytes the native get just copied to `offset`, as a view; moves past them. */
  take(length: number): Uint8Array {
    // Only an empty value "fits" a detached pool (at offset 0), and a view of it would throw.
    if (length === 0 && this.bytes.length === 0) this.renew();
    const v = new Uint8Array(this.bytes.buffer, this.offset, length);
    // 8-byte aligned, so a DataView over the value reads aligned doubles.
    this.offset = (this.offset + length + 7) & ~7;
    if (this.bytes.length - this.offset < MIN_FREE) this.renew();
    return v;
  }

  /**
   * A value did not fit. A pool whose buffer user code transferred (postMessage, structuredClone)
   * is detached, has length 0 and fits nothing: without a new one every later get() would pay for
   * its own ArrayBuffer. Off the fast path: called only for values that came back on their own.
   */
  notTaken(): void {
    if (this.bytes.length === 0) this.renew();
  }

  private renew(): void {
    this.bytes = new Uint8Array(POOL_BYTES);
    this.offset = 0;
  }
}

/** @internal Shared by every database of this thread (the binding is synchronous). */
export const valuePool = new ValuePool();
