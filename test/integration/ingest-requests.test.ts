import { createHash } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { type LocalStack, startLocalStack } from '../../local/stack';

const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';

/**
 * 9 MiB: above the size that is read once into memory and below the 64 MiB part size, so the
 * plan has one part and the digests come either from S3 or from a hashing pass.
 */
const OBJECT_SIZE = 9 * 1024 * 1024;

function patternBytes(size: number, seed: number): Buffer {
  const data = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset += 4)
    data.writeUInt32LE((offset * seed) >>> 0, offset);
  return data;
}

function multihash(data: Buffer): string {
  return `1220${createHash('sha256').update(data).digest('hex')}`;
}

describe('ingest with a stored SHA-256 checksum', () => {
  let stack: LocalStack;
  const commands: string[] = [];

  beforeAll(async () => {
    stack = await startLocalStack({ stateFile: false, logLevel: 'SILENT', metrics: false });
    stack.functionClients.s3.middlewareStack.add(
      (next, context) => (args) => {
        commands.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countCommands' },
    );
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function ingest(file: string, body: Buffer, checksumSha256?: string): Promise<string[]> {
    commands.length = 0;
    await stack.clients.s3.send(
      new PutObjectCommand({
        Bucket: stack.info.bucket,
        Key: `${COLLECTION}/${ITEM}/${file}`,
        Body: body,
        // moto 5.2.1 stores a checksum only when the request names its algorithm, and it
        // stores a given value without checking it against the body.
        ChecksumAlgorithm: checksumSha256 === undefined ? undefined : 'SHA256',
        ChecksumSHA256: checksumSha256,
      }),
    );
    await stack.poller?.idle();
    return [...commands];
  }

  it('registers the object without a hashing pass', async () => {
    // Arrange
    const body = patternBytes(OBJECT_SIZE, 7);
    const sha256 = createHash('sha256').update(body).digest('base64');

    // Act
    const commandsSent = await ingest('stored.tif', body, sha256);

    // Assert: the only GetObject is the read of the part for the upload.
    expect(commandsSent.filter((name) => name === 'GetObjectCommand')).toHaveLength(1);
    // Two HeadObjects: the first read, and the check before completing that the object
    // did not change meanwhile.
    expect(commandsSent.filter((name) => name === 'HeadObjectCommand')).toHaveLength(2);
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'stored.tif');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(body));
  });

  it('hashes an object without a stored checksum', async () => {
    // Arrange
    const body = patternBytes(OBJECT_SIZE, 11);

    // Act
    const commandsSent = await ingest('hashed.tif', body);

    // Assert: one GetObject for the hashing pass and one for the part.
    expect(commandsSent.filter((name) => name === 'GetObjectCommand')).toHaveLength(2);
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'hashed.tif');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(body));
  });

  it('fails when the stored checksum does not match the bytes', async () => {
    // Arrange: S3 rejects such an upload, but moto stores the checksum unchecked, so the
    // STAC API's check on complete is what catches it here.
    const body = patternBytes(OBJECT_SIZE, 13);
    const otherSha256 = createHash('sha256').update('other bytes').digest('base64');

    // Act
    await ingest('mismatch.tif', body, otherSha256);

    // Assert
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'mismatch.tif');
    expect(asset?.['file:checksum']).toBeUndefined();
    expect(stack.stac.uploadsInProgress()).toEqual([]);
  });

  it('replaces a file without a second asset PUT', async () => {
    // Arrange
    await ingest('replaced.tif', patternBytes(1024, 17));
    const assetPath = `/assets/replaced.tif`;
    const requestsBefore = stack.stac.requestLog.length;
    const replacement = patternBytes(1024, 19);

    // Act
    await ingest('replaced.tif', replacement);

    // Assert
    const requests = stack.stac.requestLog.slice(requestsBefore);
    expect(
      requests.filter((entry) => entry.method === 'PUT' && entry.path.endsWith(assetPath)),
    ).toEqual([]);
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'replaced.tif');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(replacement));
  });
});
