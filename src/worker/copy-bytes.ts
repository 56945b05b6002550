/**
 * Copies between byte arrays without allocating. `dst.set(src.subarray(...))` allocates a view per
 * call, and on the delivery path (one copy per subscriber per message) those views and their
 * garbage collection were a quarter of a worker's time; copying 8 bytes per step through DataViews
 * allocates nothing and is faster up to a few hundred bytes (128 B: 36 ns against 48 ns + GC).
 */
const BYTE_LOOP_MAX = 8;
const WORD_COPY_MAX = 256;

/** A DataView over exactly the bytes of `bytes`, for the destinations that keep one. */
export function dataViewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// Sources change per read buffer or ring, not per copy: the last two keep their views.
let recentSource: Uint8Array | null = null;
let recentView = dataViewOf(new Uint8Array(0));
let olderSource: Uint8Array | null = null;
let olderView = recentView;

function sourceView(src: Uint8Array): DataView {
  if (src === recentSource) return recentView;
  const view = src === olderSource ? olderView : dataViewOf(src);
  olderSource = recentSource;
  olderView = recentView;
  recentSource = src;
  recentView = view;
  return view;
}

/** Copies src[srcOffset, srcOffset + length) to dst at dstOffset; `dstView` is dataViewOf(dst). */
export function copyBytes(dst: Uint8Array, dstView: DataView, dstOffset: number, src: Uint8Array, srcOffset: number, length: number): void {
  if (length > WORD_COPY_MAX) {
    dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset);
    return;
  }
  let i = 0;
  if (length >= BYTE_LOOP_MAX) {
    const from = sourceView(src);
    for (; i + 8 <= length; i += 8) {
      dstView.setInt32(dstOffset + i, from.getInt32(srcOffset + i, true), true);
      dstView.setInt32(dstOffset + i + 4, from.getInt32(srcOffset + i + 4, true), true);
    }
  }
  for (; i < length; i++) dst[dstOffset + i] = src[srcOffset + i];
}
