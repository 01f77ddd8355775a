import { open } from 'node:fs/promises';
import { InvalidBundleError } from '../errors.js';

const CHUNK = 64 * 1024;

/**
 * Reads a whole file, refusing (with {@link InvalidBundleError}) one larger than `limit` bytes.
 * It reads at most `limit + 1` bytes whatever `stat` says, so a huge file, a growing file or a
 * device such as `/dev/zero` is never loaded into memory. File system errors (such as `ENOENT`)
 * and aborts pass through unchanged.
 */
export async function readBoundedFile(
  path: string,
  limit: number,
  signal: AbortSignal | undefined,
): Promise<Buffer> {
  signal?.throwIfAborted();
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    if (size > limit) {
      throw new InvalidBundleError(`file ${path} is ${size} bytes long; the limit is ${limit}`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      signal?.throwIfAborted();
      const want = Math.min(CHUNK, limit + 1 - total);
      const buffer = Buffer.allocUnsafe(want);
      const { bytesRead } = await handle.read(buffer, 0, want, null);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) {
        throw new InvalidBundleError(`file ${path} is longer than the ${limit}-byte limit`);
      }
    }
    return Buffer.concat(chunks, total);
  } finally {
    await handle.close();
  }
}
