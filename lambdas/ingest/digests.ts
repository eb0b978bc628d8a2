import { createHash, type Hash } from 'node:crypto';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip } from 'node:zlib';
import { IngestError, InvalidInputError } from './errors';
import { InvalidPartPlanError } from './part-plan';
import type { ObjectDigests, PartMd5, PartRange } from './types';

/** Multihash prefix of a sha2-256 digest: code 0x12, then the digest length 0x20 (32 bytes). */
const SHA2_256_MULTIHASH_PREFIX = '1220';
const SHA256_DIGEST_BYTES = 32;

/**
 * Object whose byte count differs from the size it was planned for, because it was replaced
 * or the read was cut short. Retryable, because a later read of a cut-short stream can succeed.
 */
export class ObjectSizeMismatchError extends IngestError {
  readonly retryable = true;
}

/**
 * Computes the sha2-256 multihash of a whole object and the MD5 of each part in one pass.
 *
 * Chunks are split at part boundaries without copying, and no more than one chunk is held at
 * a time, so memory stays bounded by the chunk size of `body`.
 *
 * @param body - the object's bytes, in order
 * @param parts - contiguous parts from byte 0, as {@link planParts} returns them, whose last
 *   `end` is the expected size
 * @throws InvalidPartPlanError when the parts are empty or not contiguous from byte 0
 * @throws ObjectSizeMismatchError when `body` yields more or fewer bytes than the parts cover
 */
export async function computeDigests(
  body: AsyncIterable<Uint8Array>,
  parts: readonly PartRange[],
  options: { contentEncoding?: ContentEncoding; signal?: AbortSignal } = {},
): Promise<ObjectDigests> {
  assertContiguous(parts);
  const expectedSize = parts[parts.length - 1].end;
  const sha256 = createHash('sha256');
  const decoder = createDecoder(options.contentEncoding, sha256, options.signal);
  const md5Parts: PartMd5[] = [];
  let partIndex = 0;
  let partHash: Hash = createHash('md5');
  let position = 0;

  // Finishes every part that ends at or before `position`. A zero-byte plan has one part that
  // ends at 0, so it is finished without any chunk.
  const finishCompletedParts = () => {
    while (partIndex < parts.length && parts[partIndex].end <= position) {
      md5Parts.push({ part_number: parts[partIndex].partNumber, md5: partHash.digest('base64') });
      partHash = createHash('md5');
      partIndex += 1;
    }
  };

  finishCompletedParts();
  for await (const chunk of body) {
    if (position + chunk.length > expectedSize) {
      throw sizeMismatch(expectedSize, `at least ${position + chunk.length}`);
    }
    if (decoder === undefined) {
      sha256.update(chunk);
    } else {
      await decoder.write(chunk);
    }

    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, parts[partIndex].end - position);
      partHash.update(chunk.subarray(offset, offset + take));
      offset += take;
      position += take;
      finishCompletedParts();
    }
  }

  if (position !== expectedSize) {
    throw sizeMismatch(expectedSize, String(position));
  }
  await decoder?.end();
  return { checksum: toMultihash(sha256.digest()), md5Parts, size: position };
}

/** Content encodings whose data the API can take, with the checksum of the decoded data. */
export const CONTENT_ENCODINGS = ['gzip', 'br'] as const;
export type ContentEncoding = (typeof CONTENT_ENCODINGS)[number];

/** Compressed data that cannot be decoded with its declared Content-Encoding. */
export class InvalidEncodingError extends InvalidInputError {}

/**
 * Returns a sink that decodes compressed chunks and feeds the decoded bytes to `hash`, waiting
 * for the decoder to drain so that memory stays bounded by its buffers.
 */
function createDecoder(
  encoding: ContentEncoding | undefined,
  hash: Hash,
  signal: AbortSignal | undefined,
): { write(chunk: Uint8Array): Promise<void>; end(): Promise<void> } | undefined {
  if (encoding === undefined) return undefined;
  const decoder = encoding === 'gzip' ? createGunzip() : createBrotliDecompress();
  let failure: Error | undefined;
  let stopped: Error | undefined;
  decoder.on('data', (chunk: Buffer) => {
    // A small chunk can decode to gigabytes, so the deadline is checked per decoded chunk.
    if (signal?.aborted) {
      stopped ??= new Error('decoding was stopped at the invocation deadline');
      decoder.destroy(stopped);
      return;
    }
    hash.update(chunk);
  });
  decoder.on('error', (error) => {
    failure ??= error;
  });
  const invalid = (error: Error) =>
    error === stopped
      ? error
      : new InvalidEncodingError(
          `The object's data is not valid ${encoding} data (${error.message}), although its Content-Encoding is ${encoding}: upload it again with the Content-Encoding that matches its bytes, or none.`,
          { cause: error },
        );

  return {
    async write(chunk) {
      if (failure !== undefined) throw invalid(failure);
      if (!decoder.write(chunk)) {
        try {
          await once(decoder, 'drain');
        } catch (error) {
          throw invalid(error as Error);
        }
      }
    },
    async end() {
      decoder.end();
      try {
        await finished(decoder);
      } catch (error) {
        throw invalid(error as Error);
      }
      if (failure !== undefined) throw invalid(failure);
    },
  };
}

/**
 * Encodes a sha2-256 digest as a multihash in lowercase hex: `1220` followed by the 64 hex
 * digits of the digest, the form of the STAC API's `file:checksum`.
 *
 * @throws RangeError when the digest is not 32 bytes long
 */
export function toMultihash(sha256Digest: Buffer): string {
  if (sha256Digest.length !== SHA256_DIGEST_BYTES) {
    throw new RangeError(
      `Invalid sha2-256 digest: expected ${SHA256_DIGEST_BYTES} bytes, got ${sha256Digest.length}.`,
    );
  }
  return SHA2_256_MULTIHASH_PREFIX + sha256Digest.toString('hex');
}

function sizeMismatch(expectedSize: number, actualBytes: string): ObjectSizeMismatchError {
  return new ObjectSizeMismatchError(
    `The object stream has ${actualBytes} bytes, but ${expectedSize} were expected: the object ` +
      'was replaced or the read was cut short. A retry reads the object again, and a ' +
      'replacement upload sends its own event.',
  );
}

function assertContiguous(parts: readonly PartRange[]): void {
  if (parts.length === 0) {
    throw new InvalidPartPlanError('Invalid part plan: it has no parts.');
  }
  let expectedStart = 0;
  for (const part of parts) {
    const isEmptyObject = parts.length === 1 && part.end === 0;
    if (part.start !== expectedStart || (part.end <= part.start && !isEmptyObject)) {
      throw new InvalidPartPlanError(
        `Invalid part plan: part ${part.partNumber} covers bytes ${part.start} to ${part.end}, ` +
          `but parts must be non-empty and contiguous from byte 0, so it must start at ${expectedStart}.`,
      );
    }
    expectedStart = part.end;
  }
}
