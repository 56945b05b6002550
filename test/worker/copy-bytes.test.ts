import assert from 'node:assert/strict';
import { test } from 'node:test';
import { copyBytes, dataViewOf } from '../../src/worker/copy-bytes.js';

test('copyBytes copies every length and offset exactly, from sources that change between calls', () => {
  // Three sources in rotation (more than the source-view cache holds), one a view into a larger buffer.
  const sources = [Buffer.alloc(1200), new Uint8Array(new ArrayBuffer(1300), 37, 1200), Buffer.allocUnsafe(1200)];
  sources.forEach((s, k) => s.forEach((_, i) => (s[i] = (i * 31 + k * 7) & 0xff)));
  const dst = Buffer.alloc(1400);
  const view = dataViewOf(dst);
  let call = 0;
  for (let length = 0; length <= 600; length += length < 300 ? 1 : 37) {
    for (const srcOffset of [0, 1, 3, 5, 600 - (length % 7)]) {
      const src = sources[call++ % sources.length];
      const dstOffset = (length * 13 + srcOffset) % 700;
      dst.fill(0xee);
      copyBytes(dst, view, dstOffset, src, srcOffset, length);
      assert.deepEqual(dst.subarray(dstOffset, dstOffset + length), Buffer.from(src.subarray(srcOffset, srcOffset + length)), `length ${length} from ${srcOffset}`);
      assert.equal(dst[dstOffset - 1] ?? 0xee, 0xee, 'nothing written before');
      assert.equal(dst[dstOffset + length], 0xee, 'nothing written after');
    }
  }
});
