/**
 * Most bytes one shared copy holds: bounds what a kept byte[] keeps alive. Small for glibc (kept at 8 KiB
 * where savepoint's VALUE_COPY_RUN_BYTES went to 32 KiB: not measured better here): 256 KiB slabs (a fresh mmap each, zero pages faulted in as
 * they were filled) cost ~8,000 more page faults and ~20% more CPU per 64 MiB read (session 10).
 */
export const BYTE_COPY_SLAB_BYTES = 8 << 10;

/** A byte[] at least this long gets a buffer of its own (in a shared one it would leave most of it unused). */
export const OWN_COPY_BYTES = BYTE_COPY_SLAB_BYTES >> 1;

/**
 * Copies of decoded byte[] values, packed one after another into shared buffers of
 * BYTE_COPY_SLAB_BYTES. A copy per value would allocate one ArrayBuffer each (memory outside the
 * JS heap, tracked and released by the GC), which made allocation and GC, not the copy, most of
 * a Flink savepoint read (issue 16). flowstate's own copied read (savepoint's ValueFieldCopies)
 * shares buffers for the same reason but differently: one buffer per run of records' value fields,
 * sized to the run (up to 32 KiB, or one larger field whole), left uninitialized because every byte
 * is written, and no OWN_COPY_BYTES cutoff. Here values arrive one at a time (also from inside
 * composite values), so a slab of fixed size is made before their sizes are known, and zero-filled
 * because its tail may stay unused.
 *
 * A copy is a Uint8Array over a range of its buffer (`byteOffset` may be non-zero). Buffers are
 * zero-filled when made, so no old memory shows through `value.buffer`; a value a caller keeps
 * keeps at most one shared buffer alive. Copies never overlap, so writing to one changes no other.
 */
export class ByteArrayCopies {
  private slab = new Uint8Array(0);
  private used = 0;

  copy(src: Uint8Array): Uint8Array {
    const n = src.length;
    if (n >= OWN_COPY_BYTES) return new Uint8Array(src);
    if (n > this.slab.length - this.used) {
      this.slab = new Uint8Array(BYTE_COPY_SLAB_BYTES);
      this.used = 0;
    }
    const at = this.used;
    this.slab.set(src, at);
    this.used = at + n;
    return this.slab.subarray(at, at + n);
  }
}
