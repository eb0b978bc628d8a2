import { toMultihash } from './digests';
import type { ObjectHead } from './s3-object';
import type { ObjectDigests, PartRange } from './types';

/** ETag of an object uploaded in one request: the hex MD5 of its bytes, in quotes. */
const PLAIN_MD5_ETAG = /^"?([0-9a-fA-F]{32})"?$/;

/** Base64 of a 32-byte digest: 43 characters and one `=` of padding. */
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** Encryption whose ETag is still the MD5 of the object's bytes (SSE-S3), or none. */
const MD5_ETAG_ENCRYPTION = new Set([undefined, 'AES256']);

/**
 * Returns the digests that S3 already stores for an object, or undefined when a hashing pass is
 * needed. They are used only when all of these hold:
 *
 * - the plan has one part that covers the whole object, so the part MD5 is the object's MD5;
 * - the ETag is a plain MD5, which S3 gives an object uploaded in one request. A multipart
 *   object's ETag ends in `-<part count>`. SSE-KMS and SSE-C objects get other ETags, so those
 *   encryptions are excluded whatever their ETag looks like;
 * - S3 returned a SHA-256 checksum of the whole object (HeadObject with `ChecksumMode: ENABLED`).
 *   A `COMPOSITE` checksum is a checksum of part checksums and is rejected.
 *
 * NOTE: moto 5.2.1 returns no `ChecksumType`, and returns a composite SHA-256 without its
 * `-<part count>` suffix for a multipart object. The plain MD5 ETag rules such objects out.
 */
export function digestsFromStoredChecksums(
  head: ObjectHead,
  parts: readonly PartRange[],
): ObjectDigests | undefined {
  if (head.size <= 0 || parts.length !== 1) return undefined;
  if (parts[0].start !== 0 || parts[0].end !== head.size) return undefined;
  if (!MD5_ETAG_ENCRYPTION.has(head.serverSideEncryption)) return undefined;
  if (head.sseCustomerAlgorithm !== undefined) return undefined;
  if (head.checksumType !== undefined && head.checksumType !== 'FULL_OBJECT') return undefined;
  // S3's checksum covers the stored bytes, but file:checksum covers the decoded content.
  if (head.contentEncoding !== undefined) return undefined;

  const md5Hex = PLAIN_MD5_ETAG.exec(head.eTag)?.[1];
  const sha256 = head.checksumSha256;
  if (md5Hex === undefined || sha256 === undefined || !BASE64_SHA256.test(sha256)) {
    return undefined;
  }
  return {
    checksum: toMultihash(Buffer.from(sha256, 'base64')),
    md5Parts: [
      { part_number: parts[0].partNumber, md5: Buffer.from(md5Hex, 'hex').toString('base64') },
    ],
    size: head.size,
  };
}
