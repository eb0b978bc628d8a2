import { createHash } from 'node:crypto';
import { planParts } from '../../lambdas/ingest/part-plan';
import type { ObjectHead } from '../../lambdas/ingest/s3-object';
import { digestsFromStoredChecksums } from '../../lambdas/ingest/stored-checksums';

const DATA = Buffer.from('x,y\n1,2\n3,4\n');
const MD5_HEX = createHash('md5').update(DATA).digest('hex');
const SHA256_BASE64 = createHash('sha256').update(DATA).digest('base64');

/** Head of DATA uploaded with PutObject and a SHA-256 checksum. */
function head(overrides: Partial<ObjectHead> = {}): ObjectHead {
  return {
    size: DATA.length,
    eTag: `"${MD5_HEX}"`,
    metadata: {},
    checksumSha256: SHA256_BASE64,
    checksumType: 'FULL_OBJECT',
    ...overrides,
  };
}

describe('digestsFromStoredChecksums', () => {
  it('converts the stored SHA-256 and MD5 ETag', () => {
    const digests = digestsFromStoredChecksums(head(), planParts(DATA.length));

    expect(digests).toEqual({
      checksum: `1220${createHash('sha256').update(DATA).digest('hex')}`,
      md5Parts: [{ part_number: 1, md5: createHash('md5').update(DATA).digest('base64') }],
      size: DATA.length,
    });
  });

  it('accepts a head without a checksum type, as moto returns it', () => {
    const digests = digestsFromStoredChecksums(
      head({ checksumType: undefined }),
      planParts(DATA.length),
    );

    expect(digests?.checksum).toMatch(/^1220[0-9a-f]{64}$/);
  });

  it('accepts SSE-S3 encryption', () => {
    const digests = digestsFromStoredChecksums(
      head({ serverSideEncryption: 'AES256' }),
      planParts(DATA.length),
    );

    expect(digests).toBeDefined();
  });

  it.each<[string, Partial<ObjectHead>]>([
    ['no stored checksum', { checksumSha256: undefined }],
    ['a composite checksum', { checksumType: 'COMPOSITE' }],
    ['a composite checksum with a part count', { checksumSha256: `${SHA256_BASE64}-3` }],
    ['a multipart ETag', { eTag: `"${MD5_HEX}-2"` }],
    ['SSE-KMS', { serverSideEncryption: 'aws:kms' }],
    ['DSSE-KMS', { serverSideEncryption: 'aws:kms:dsse' }],
    ['SSE-C', { sseCustomerAlgorithm: 'AES256' }],
    ['an empty object', { size: 0 }],
  ])('returns undefined for %s', (_name, overrides) => {
    const size = overrides.size ?? DATA.length;

    expect(digestsFromStoredChecksums(head(overrides), planParts(size))).toBeUndefined();
  });

  it('returns undefined for a plan of several parts', () => {
    const size = 12 * 1024 * 1024;
    const parts = planParts(size, { partSizeBytes: 5 * 1024 * 1024 });

    expect(digestsFromStoredChecksums(head({ size }), parts)).toBeUndefined();
  });

  it('returns undefined for a part that does not cover the object', () => {
    const parts = [{ partNumber: 1, start: 0, end: DATA.length - 1 }];

    expect(digestsFromStoredChecksums(head(), parts)).toBeUndefined();
  });
});
