import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import {
  computeDigests,
  InvalidEncodingError,
  ObjectSizeMismatchError,
  toMultihash,
} from '../../lambdas/ingest/digests';
import { InvalidPartPlanError, MIB_BYTES, planParts } from '../../lambdas/ingest/part-plan';
import type { PartRange } from '../../lambdas/ingest/types';

const SAMPLES_DIR = join(__dirname, '..', '..', 'samples');

/** Yields `data` in chunks whose sizes repeat `chunkSizes`, as an S3 body stream would. */
async function* chunked(
  data: Uint8Array,
  chunkSizes: readonly number[],
): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let index = 0;
  while (offset < data.length) {
    const size = chunkSizes[index % chunkSizes.length];
    yield data.subarray(offset, offset + size);
    offset += size;
    index += 1;
  }
}

/** Fills a buffer with a deterministic byte pattern that differs from part to part. */
function patternBytes(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (let index = 0; index < size; index++) {
    data[index] = (index * 31 + (index >> 11)) & 0xff;
  }
  return data;
}

/** Returns the offset after each chunk that {@link chunked} yields. */
function chunkEndOffsets(size: number, chunkSizes: readonly number[]): number[] {
  const offsets: number[] = [];
  let offset = 0;
  for (let index = 0; offset < size; index++) {
    offset = Math.min(size, offset + chunkSizes[index % chunkSizes.length]);
    offsets.push(offset);
  }
  return offsets;
}

function md5Base64(data: Uint8Array): string {
  return createHash('md5').update(data).digest('base64');
}

describe('digests', () => {
  describe('toMultihash', () => {
    it('prefixes the sha-256 of empty input', () => {
      // Arrange
      const digest = createHash('sha256').digest();

      // Act
      const multihash = toMultihash(digest);

      // Assert
      expect(multihash).toBe(
        '1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      );
    });

    it('rejects a digest that is not 32 bytes', () => {
      // Act
      const act = () => toMultihash(Buffer.alloc(16));

      // Assert
      expect(act).toThrow(RangeError);
      expect(act).toThrow('Invalid sha2-256 digest: expected 32 bytes, got 16.');
    });
  });

  describe('computeDigests', () => {
    it('digests an empty object as one empty part', async () => {
      // Arrange
      const parts = planParts(0);

      // Act
      const digests = await computeDigests(chunked(new Uint8Array(0), [1]), parts);

      // Assert
      expect(digests).toEqual({
        checksum: '1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        md5Parts: [{ part_number: 1, md5: '1B2M2Y8AsgTpgAmY7PhCfg==' }],
        size: 0,
      });
    });

    it('ignores empty chunks', async () => {
      // Arrange
      async function* body() {
        yield new Uint8Array(0);
        yield Buffer.from('ab');
        yield new Uint8Array(0);
        yield Buffer.from('c');
      }

      // Act
      const digests = await computeDigests(body(), planParts(3));

      // Assert
      expect(digests.md5Parts).toEqual([{ part_number: 1, md5: 'kAFQmDzST7DWlj99KOF/cg==' }]);
      expect(digests.size).toBe(3);
    });

    it('computes the known MD5 of "abc"', async () => {
      // Arrange
      const data = Buffer.from('abc');

      // Act
      const digests = await computeDigests(chunked(data, [1]), planParts(data.length));

      // Assert
      expect(digests.md5Parts).toEqual([{ part_number: 1, md5: 'kAFQmDzST7DWlj99KOF/cg==' }]);
      expect(digests.checksum).toBe(
        '1220ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
    });

    it.each([
      [
        'swissalti-demo-2056-2.tif',
        '1220c3eda5f5acfaf1d2a9aa8e1b70b1d2ddc921bc2a34f0a2e86383bc533f179fd5',
      ],
      ['places-2056.gpkg', '1220862499a415e7c9a18344bae4c74565f6aca7b05b5f49187ea4660db467eb71da'],
      [
        'places-2056.shp.zip',
        '1220e0bc2bc43cbd0ff575a113fdcc595cbc90ab01112384e7ba385628fd72971246',
      ],
      ['places-4326.kml', '12202a0c81f9d75a3dd52996257b7a6ee08909082099744f213858f668175a4cbc0d'],
      ['places-4326.csv', '122003a67c4fff1d58302223a00673b2aa8f76559b6aa6e5344897dfcb5f091d41d4'],
    ])('computes the checksum of sample %s', async (fileName, expectedChecksum) => {
      // Arrange
      const path = join(SAMPLES_DIR, fileName);
      const size = statSync(path).size;
      const body = createReadStream(path, { highWaterMark: 1000 });

      // Act
      const digests = await computeDigests(body, planParts(size));

      // Assert
      expect(digests.checksum).toBe(expectedChecksum);
      expect(digests.size).toBe(size);
      expect(digests.md5Parts).toEqual([{ part_number: 1, md5: md5Base64(readFileSync(path)) }]);
    });

    it('splits chunks that cross part boundaries', async () => {
      // Arrange
      const size = 12 * MIB_BYTES + 3;
      const data = patternBytes(size);
      const parts = planParts(size, { partSizeBytes: 5 * MIB_BYTES });
      // Odd chunk sizes put part boundaries in the middle of chunks.
      const chunkSizes = [65_537, 1_000_003, 7, 333_333];

      // Act
      const digests = await computeDigests(chunked(data, chunkSizes), parts);

      // Assert
      expect(parts).toHaveLength(3);
      expect(chunkEndOffsets(size, chunkSizes)).not.toContain(parts[0].end);
      expect(chunkEndOffsets(size, chunkSizes)).not.toContain(parts[1].end);
      expect(digests.md5Parts).toEqual(
        parts.map((part) => ({
          part_number: part.partNumber,
          md5: md5Base64(data.subarray(part.start, part.end)),
        })),
      );
      expect(digests.checksum).toBe(`1220${createHash('sha256').update(data).digest('hex')}`);
      expect(digests.size).toBe(size);
    });

    it('finishes several parts inside one chunk', async () => {
      // Arrange
      const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
      const parts: PartRange[] = [
        { partNumber: 1, start: 0, end: 5 },
        { partNumber: 2, start: 5, end: 10 },
        { partNumber: 3, start: 10, end: 11 },
        { partNumber: 4, start: 11, end: 36 },
      ];

      // Act
      const digests = await computeDigests(chunked(data, [24, 12]), parts);

      // Assert
      expect(digests.md5Parts).toEqual(
        parts.map((part) => ({
          part_number: part.partNumber,
          md5: md5Base64(data.subarray(part.start, part.end)),
        })),
      );
    });

    it('names both sizes when the stream is short', async () => {
      // Arrange
      const data = Buffer.from('abc');

      // Act
      const act = computeDigests(chunked(data, [2]), planParts(4));

      // Assert
      await expect(act).rejects.toThrow(ObjectSizeMismatchError);
      await expect(act).rejects.toThrow(
        'The object stream has 3 bytes, but 4 were expected: the object was replaced or the ' +
          'read was cut short. A retry reads the object again, and a replacement upload sends ' +
          'its own event.',
      );
    });

    it('stops as soon as the stream is too long', async () => {
      // Arrange
      let chunksRead = 0;
      async function* body() {
        for (let index = 0; index < 10; index++) {
          chunksRead += 1;
          yield Buffer.from('abc');
        }
      }

      // Act
      const act = computeDigests(body(), planParts(4));

      // Assert
      await expect(act).rejects.toThrow(
        'The object stream has at least 6 bytes, but 4 were expected',
      );
      expect(chunksRead).toBe(2);
    });

    it('marks a size mismatch as retryable', async () => {
      // Act
      const act = computeDigests(chunked(Buffer.from('ab'), [2]), planParts(3));

      // Assert
      await expect(act).rejects.toMatchObject({ retryable: true });
    });

    it.each<[string, PartRange[]]>([
      ['no parts', []],
      [
        'a gap',
        [
          { partNumber: 1, start: 0, end: 2 },
          { partNumber: 2, start: 3, end: 4 },
        ],
      ],
      [
        'an empty part',
        [
          { partNumber: 1, start: 0, end: 2 },
          { partNumber: 2, start: 2, end: 2 },
        ],
      ],
      ['a late start', [{ partNumber: 1, start: 1, end: 2 }]],
    ])('rejects a plan with %s', async (_name, parts) => {
      // Act
      const act = computeDigests(chunked(Buffer.from('abcd'), [4]), parts);

      // Assert
      await expect(act).rejects.toThrow(InvalidPartPlanError);
    });
  });

  describe('computeDigests with a Content-Encoding', () => {
    const plain = Buffer.from('x,y\n'.repeat(50_000));

    it.each([
      ['gzip', gzipSync(plain)],
      ['br', brotliCompressSync(plain)],
    ] as const)('hashes the decoded %s data', async (encoding, stored) => {
      // Arrange
      const parts = [{ partNumber: 1, start: 0, end: stored.length }];

      // Act
      const digests = await computeDigests(chunked(stored, [1000]), parts, {
        contentEncoding: encoding,
      });

      // Assert
      expect(digests.checksum).toBe(`1220${createHash('sha256').update(plain).digest('hex')}`);
      expect(digests.md5Parts).toEqual([
        { part_number: 1, md5: createHash('md5').update(stored).digest('base64') },
      ]);
      expect(digests.size).toBe(stored.length);
    });

    it('rejects data that is not gzip', async () => {
      // Arrange
      const parts = [{ partNumber: 1, start: 0, end: plain.length }];

      // Act
      const digests = computeDigests(chunked(plain, [1000]), parts, { contentEncoding: 'gzip' });

      // Assert
      await expect(digests).rejects.toThrow(InvalidEncodingError);
      await expect(digests).rejects.toThrow(/is not valid gzip data/);
    });
  });
});
