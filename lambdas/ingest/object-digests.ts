import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { type ContentEncoding, computeDigests } from './digests';
import { MIB_BYTES } from './part-plan';
import { type ReadAheadOptions, readAhead } from './read-ahead';
import { type ObjectHead, openObject } from './s3-object';
import { digestsFromStoredChecksums } from './stored-checksums';
import type { ObjectDigests, ObjectRef, PartRange } from './types';

/**
 * Largest object that is read once into memory and uploaded from there, which saves its second
 * GetObject. It bounds that buffer, the only one that grows with the object.
 */
export const IN_MEMORY_MAX_BYTES = 8 * MIB_BYTES;

/** Source of the digests: `stored` (S3's checksum and ETag) or `computed` (a hashing pass). */
export type ChecksumSource = 'stored' | 'computed';

/** The object's digests and how to read its parts for the upload. */
export interface PreparedObject {
  readonly digests: ObjectDigests;
  readonly checksumSource: ChecksumSource;
  /** Opens a fresh stream of one part's bytes; called again when a part is retried. */
  readonly openPart: (part: PartRange) => Promise<Readable>;
}

/**
 * Obtains the object's sha2-256 multihash and part MD5s with the fewest reads:
 *
 * - from S3's stored SHA-256 checksum and MD5 ETag when they are usable (see
 *   {@link digestsFromStoredChecksums}), so no byte is read before the upload;
 * - for objects up to {@link IN_MEMORY_MAX_BYTES}, from one GetObject whose bytes are kept for
 *   the upload;
 * - otherwise from one pass over ranged reads fetched ahead ({@link readAhead}), and each part
 *   is read again from S3 when it is sent.
 */
export async function prepareObject(
  s3: S3Client,
  ref: ObjectRef,
  head: ObjectHead,
  parts: readonly PartRange[],
  readAheadOptions?: ReadAheadOptions,
  signal?: AbortSignal,
): Promise<PreparedObject> {
  const openPart = (part: PartRange) => openObject(s3, ref, head, part, signal);
  // The caller rejects any other Content-Encoding before it plans the upload.
  const digestOptions = {
    contentEncoding: head.contentEncoding as ContentEncoding | undefined,
    signal,
  };

  const stored = digestsFromStoredChecksums(head, parts);
  if (stored !== undefined) {
    return { digests: stored, checksumSource: 'stored', openPart };
  }

  if (head.size <= IN_MEMORY_MAX_BYTES) {
    const chunks: Uint8Array[] = [];
    const keepChunks = async function* (body: AsyncIterable<Uint8Array>) {
      for await (const chunk of body) {
        chunks.push(chunk);
        yield chunk;
      }
    };
    const digests = await computeDigests(
      keepChunks(await openObject(s3, ref, head, undefined, signal)),
      parts,
      digestOptions,
    );
    const bytes = Buffer.concat(chunks);
    return {
      digests,
      checksumSource: 'computed',
      openPart: async (part) =>
        Readable.from([bytes.subarray(part.start, part.end)], { objectMode: false }),
    };
  }

  const body = readAhead(
    (range) => openObject(s3, ref, head, range, signal),
    head.size,
    readAheadOptions,
  );
  return {
    digests: await computeDigests(body, parts, digestOptions),
    checksumSource: 'computed',
    openPart,
  };
}
