/** Below this length a byte loop beats subarray()+set() (and Buffer.copy), which allocate a view. */
const LOOP_COPY_MAX = 24;

/** Copies src[srcOffset, srcOffset + length) to dst at dstOffset without allocating for short runs. */
export function copyBytes(dst: Uint8Array, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (length <= LOOP_COPY_MAX) {
    for (let i = 0; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
  } else {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
  }
}
