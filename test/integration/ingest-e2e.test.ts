import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { countMessages, type LocalStack, startLocalStack } from '../../local/stack';

const SAMPLES = join(__dirname, '..', '..', 'samples');
const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';

/** Independent sha2-256 multihash of a buffer. */
function multihash(data: Buffer): string {
  return `1220${createHash('sha256').update(data).digest('hex')}`;
}

async function download(href: string): Promise<Buffer> {
  const response = await fetch(href);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

describe('ingest end to end', () => {
  let stack: LocalStack;
  const logLines: string[] = [];

  beforeAll(async () => {
    stack = await startLocalStack({
      stateFile: false,
      // The test checks outcomes, not log lines, so the expected error lines stay out of the output.
      logLevel: 'SILENT',
      metrics: false,
      partSizeMib: 5,
      // This file tests the path without the function's own dead-letter sends.
      deadLetterFastPath: false,
      log: (line) => logLines.push(line),
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function put(key: string, body: Buffer, metadata?: Record<string, string>): Promise<void> {
    await stack.clients.s3.send(
      new PutObjectCommand({ Bucket: stack.info.bucket, Key: key, Body: body, Metadata: metadata }),
    );
  }

  it('registers every sample file with its checksum', async () => {
    // Arrange
    const files = [
      'swissalti-demo-2056-2.tif',
      'places-2056.gpkg',
      'places-2056.shp.zip',
      'places-4326.kml',
      'places-4326.csv',
    ];
    const contents = new Map<string, Buffer>();
    for (const file of files) contents.set(file, await readFile(join(SAMPLES, file)));

    // Act
    for (const [file, body] of contents) await put(`${COLLECTION}/${ITEM}/${file}`, body);
    await stack.poller?.idle();

    // Assert
    for (const [file, body] of contents) {
      const asset = stack.stac.getAsset(COLLECTION, ITEM, file);
      expect(asset).toBeDefined();
      expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(body));
      const downloaded = await download(String(asset?.href));
      expect(multihash(downloaded)).toBe(multihash(body));
    }
    expect(stack.stac.getAsset(COLLECTION, ITEM, 'swissalti-demo-2056-2.tif')?.type).toBe(
      'image/tiff; application=geotiff; profile=cloud-optimized',
    );
    expect(stack.stac.getAsset(COLLECTION, ITEM, 'places-2056.shp.zip')?.type).toBe(
      'application/x.shapefile+zip',
    );
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    expect(await countMessages(stack.clients.sqs, stack.info.deadLetterQueueUrl)).toBe(0);
  });

  it('registers a second upload of the same file without a new upload', async () => {
    // Arrange
    const body = await readFile(join(SAMPLES, 'places-4326.csv'));
    const key = `${COLLECTION}/${ITEM}/again.csv`;
    await put(key, body);
    await stack.poller?.idle();
    const uploadsBefore = countRequests(stack, 'POST', '/uploads');

    // Act
    await put(key, body);
    await stack.poller?.idle();

    // Assert
    expect(stack.stac.getAsset(COLLECTION, ITEM, 'again.csv')?.['file:checksum']).toBeDefined();
    expect(countRequests(stack, 'POST', '/uploads')).toBe(uploadsBefore);
  });

  it('registers a collection asset from a two-segment key', async () => {
    // Arrange
    const body = await readFile(join(SAMPLES, 'places-4326.kml'));

    // Act
    await put(`${COLLECTION}/overview.kml`, body);
    await stack.poller?.idle();

    // Assert
    const asset = stack.stac.getAsset(COLLECTION, undefined, 'overview.kml');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(body));
  });

  it('registers a key with spaces and non-ASCII letters under its asset-id', async () => {
    // Arrange
    const body = await readFile(join(SAMPLES, 'places-2056.gpkg'));
    const key = `${COLLECTION}/${ITEM}/Höhe Zürich (2024)+v1.gpkg`;

    // Act
    await put(key, body, { 'asset-id': 'hoehe-zuerich-2024-v1.gpkg', title: 'Höhe' });
    await stack.poller?.idle();

    // Assert
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'hoehe-zuerich-2024-v1.gpkg');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(body));
  });

  it('uploads a file larger than one part in several parts', async () => {
    // Arrange: 12 MiB with a 5 MiB part size gives parts of 5, 5 and 2 MiB.
    const body = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < body.length; i += 4096) body.writeUInt32LE(i, i);
    const partsBefore = countRequests(stack, 'PUT', '/_upload/');

    // Act
    await put(`${COLLECTION}/${ITEM}/large.tif`, body);
    await stack.poller?.idle();

    // Assert
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'large.tif');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(body));
    expect(countRequests(stack, 'PUT', '/_upload/') - partsBefore).toBe(3);
    expect(multihash(await download(String(asset?.href)))).toBe(multihash(body));
  });

  it('registers a gzip-encoded object with its decoded checksum', async () => {
    // Arrange
    const plain = await readFile(join(SAMPLES, 'places-4326.kml'));
    const stored = gzipSync(plain);
    const key = `${COLLECTION}/${ITEM}/encoded.kml`;

    // Act
    await stack.clients.s3.send(
      new PutObjectCommand({
        Bucket: stack.info.bucket,
        Key: key,
        Body: stored,
        ContentEncoding: 'gzip',
      }),
    );
    await stack.poller?.idle();

    // Assert: file:checksum covers the decoded file; the href serves it with its encoding.
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'encoded.kml');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(plain));
    const response = await fetch(String(asset?.href), { headers: { 'Accept-Encoding': 'gzip' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    expect(multihash(Buffer.from(await response.arrayBuffer()))).toBe(multihash(plain));
  });

  it('uploads again when only the encoding changed', async () => {
    // Arrange: the same content, first plain, then gzip-encoded.
    const plain = await readFile(join(SAMPLES, 'places-4326.csv'));
    const key = `${COLLECTION}/${ITEM}/recoded.csv`;
    await put(key, plain);
    await stack.poller?.idle();
    const creates = () =>
      stack.stac.requestLog.filter(
        (entry) => entry.method === 'POST' && entry.path.endsWith('/recoded.csv/uploads'),
      ).length;
    const uploadsBefore = creates();

    // Act
    await stack.clients.s3.send(
      new PutObjectCommand({
        Bucket: stack.info.bucket,
        Key: key,
        Body: gzipSync(plain),
        ContentEncoding: 'gzip',
      }),
    );
    await stack.poller?.idle();

    // Assert
    expect(creates()).toBe(uploadsBefore + 1);
    const asset = stack.stac.getAsset(COLLECTION, ITEM, 'recoded.csv');
    expect(String(asset?.['file:checksum']).toLowerCase()).toBe(multihash(plain));
    const response = await fetch(String(asset?.href), { headers: { 'Accept-Encoding': 'gzip' } });
    expect(response.headers.get('content-encoding')).toBe('gzip');
  });

  it('dead-letters a key outside the layout and keeps the object', async () => {
    // Arrange
    const key = 'Not A Collection/file.csv';

    // Act
    await put(key, Buffer.from('x,y\n1,2\n'));
    await stack.poller?.idle();

    // Assert
    expect(await countMessages(stack.clients.sqs, stack.info.deadLetterQueueUrl)).toBe(1);
    expect(await countMessages(stack.clients.sqs, stack.info.queueUrl)).toBe(0);
    const head = await stack.clients.s3.send(
      new HeadObjectCommand({ Bucket: stack.info.bucket, Key: key }),
    );
    expect(head.ContentLength).toBe(8);
  });
});

describe('ingest with a token that expires', () => {
  let stack: LocalStack;
  let clockOffsetMs = 0;

  beforeAll(async () => {
    stack = await startLocalStack({
      stateFile: false,
      logLevel: 'SILENT',
      metrics: false,
      now: () => Date.now() + clockOffsetMs,
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('renews the token between two objects', async () => {
    // Arrange
    const body = await readFile(join(SAMPLES, 'places-4326.csv'));
    const put = (key: string) =>
      stack.clients.s3.send(
        new PutObjectCommand({ Bucket: stack.info.bucket, Key: key, Body: body }),
      );
    await put(`${COLLECTION}/${ITEM}/first.csv`);
    await stack.poller?.idle();

    // Act: moto's tokens live one hour, so two hours later the cached one has expired.
    clockOffsetMs = 2 * 3600 * 1000;
    await put(`${COLLECTION}/${ITEM}/second.csv`);
    await stack.poller?.idle();

    // Assert
    expect(stack.stac.getAsset(COLLECTION, ITEM, 'first.csv')?.['file:checksum']).toBeDefined();
    expect(stack.stac.getAsset(COLLECTION, ITEM, 'second.csv')?.['file:checksum']).toBeDefined();
    expect(stack.runtime()?.tokens.stats).toEqual({ logins: 1, refreshes: 1 });
    expect(stack.runtime()?.secrets.readCount).toBe(2);
  });
});

function countRequests(stack: LocalStack, method: string, pathPart: string): number {
  return stack.stac.requestLog.filter(
    (entry) => entry.method === method && entry.path.includes(pathPart),
  ).length;
}
