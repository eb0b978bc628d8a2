import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import {
  AdminCreateUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { type StacEmulator, startStacEmulator } from '../../local/stac-emulator';

const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';

interface UploadBody {
  upload_id: string;
  status: string;
  urls: { url: string; part: number; expires: string }[];
  [key: string]: unknown;
}

function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

function multihash(data: Buffer): string {
  return `1220${createHash('sha256').update(data).digest('hex')}`;
}

/** Returns deterministic test bytes of the given length. */
function bytes(length: number, seed = 1): Buffer<ArrayBuffer> {
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) {
    data[i] = (i * 31 + seed * 7) % 251;
  }
  return data;
}

function itemAssetUrl(emulator: StacEmulator, asset: string): string {
  return `${emulator.url}/collections/${COLLECTION}/items/${ITEM}/assets/${asset}`;
}

async function send(
  url: string,
  method: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function putTextAsset(assetUrl: string, id: string): Promise<void> {
  const response = await send(assetUrl, 'PUT', { id, type: 'text/plain' });
  expect([200, 201]).toContain(response.status);
}

async function createUpload(
  assetUrl: string,
  parts: Buffer[],
  file: Buffer = Buffer.concat(parts),
) {
  const response = await send(`${assetUrl}/uploads`, 'POST', {
    number_parts: parts.length,
    md5_parts: parts.map((part, index) => ({ part_number: index + 1, md5: md5Base64(part) })),
    'file:checksum': multihash(file),
  });
  return { response, body: (await response.json()) as UploadBody };
}

async function putPart(url: string, data: Buffer, contentMd5: string | null = md5Base64(data)) {
  const headers: Record<string, string> = {};
  if (contentMd5 !== null) {
    headers['Content-MD5'] = contentMd5;
  }
  return fetch(url, { method: 'PUT', headers, body: data });
}

/** Uploads every part and returns the complete request body. */
async function uploadParts(upload: UploadBody, parts: Buffer[]) {
  const completed: { etag: string; part_number: number }[] = [];
  for (const [index, part] of parts.entries()) {
    const response = await putPart(upload.urls[index].url, part);
    expect(response.status).toBe(200);
    completed.push({ etag: response.headers.get('etag') as string, part_number: index + 1 });
  }
  return { parts: completed };
}

describe('STAC emulator', () => {
  let emulator: StacEmulator;

  beforeAll(async () => {
    emulator = await startStacEmulator({ minPartSizeBytes: 1024 });
  });

  afterAll(async () => {
    await emulator.close();
  });

  describe('collections and items', () => {
    it('serves the seeded collection and item', async () => {
      const collection = await fetch(`${emulator.url}/collections/${COLLECTION}`);
      expect(collection.status).toBe(200);
      const collectionBody = (await collection.json()) as Record<string, unknown>;
      expect(collectionBody.id).toBe(COLLECTION);
      expect(collectionBody.license).toBe('proprietary');

      const item = await fetch(`${emulator.url}/collections/${COLLECTION}/items/${ITEM}`);
      expect(item.status).toBe(200);
      const itemBody = (await item.json()) as {
        properties: Record<string, unknown>;
        bbox: number[];
      };
      expect(itemBody.properties.datetime).toBe('2024-01-01T00:00:00Z');
      expect(itemBody.bbox).toEqual([7.43, 46.94, 7.46, 46.96]);
    });

    it('creates then updates an item', async () => {
      const url = `${emulator.url}/collections/${COLLECTION}/items/item-put`;
      const body = {
        id: 'item-put',
        geometry: { type: 'Point', coordinates: [7.4, 46.9] },
        properties: { datetime: '2024-02-01T00:00:00Z' },
      };
      const created = await send(url, 'PUT', body);
      expect(created.status).toBe(201);
      expect(created.headers.get('location')).toBe(url);
      const updated = await send(url, 'PUT', body);
      expect(updated.status).toBe(200);
    });

    it('rejects an item in a missing collection', async () => {
      const response = await send(`${emulator.url}/collections/missing/items/x`, 'PUT', {
        geometry: { type: 'Point', coordinates: [7.4, 46.9] },
        properties: { datetime: '2024-02-01T00:00:00Z' },
      });
      expect(response.status).toBe(404);
      const body = (await response.json()) as { code: number };
      expect(body.code).toBe(404);
    });

    it('rejects invalid collection and item ids', async () => {
      const collection = await send(`${emulator.url}/collections/Bad.Id`, 'PUT', {
        description: 'd',
        license: 'proprietary',
      });
      expect(collection.status).toBe(400);
      const item = await send(`${emulator.url}/collections/${COLLECTION}/items/bad%20id`, 'PUT', {
        geometry: { type: 'Point', coordinates: [7.4, 46.9] },
        properties: { datetime: '2024-02-01T00:00:00Z' },
      });
      expect(item.status).toBe(400);
      const body = (await item.json()) as { code: number; description: Record<string, string[]> };
      expect(body.code).toBe(400);
      expect(body.description.id[0]).toMatch(/only the following characters/);
    });
  });

  describe('assets', () => {
    it('creates an asset with 201 and updates it with 200', async () => {
      const url = itemAssetUrl(emulator, 'put-twice.tif');
      const created = await send(url, 'PUT', {
        id: 'put-twice.tif',
        type: 'image/tiff; application=geotiff',
        title: 'First',
        'file:checksum': `1220${'a'.repeat(64)}`,
      });
      expect(created.status).toBe(201);
      const createdBody = (await created.json()) as Record<string, unknown>;
      expect(createdBody['file:checksum']).toBeUndefined();
      expect(createdBody.title).toBe('First');

      const updated = await send(url, 'PUT', {
        id: 'put-twice.tif',
        type: 'image/tiff;application=geotiff',
        title: null,
        'proj:epsg': 2056,
      });
      expect(updated.status).toBe(200);
      const updatedBody = (await updated.json()) as Record<string, unknown>;
      expect(updatedBody.title).toBeUndefined();
      expect(updatedBody['proj:epsg']).toBe(2056);
      expect(updatedBody.type).toBe('image/tiff; application=geotiff');
    });

    it('returns 404 when the item is missing', async () => {
      const response = await send(
        `${emulator.url}/collections/${COLLECTION}/items/no-such-item/assets/a.txt`,
        'PUT',
        { id: 'a.txt', type: 'text/plain' },
      );
      expect(response.status).toBe(404);
    });

    it.each([
      ['invalid id', 'Bad.TXT', { type: 'text/plain' }, 'id'],
      ['extension not of the media type', 'data.zip', { type: 'text/plain' }, 'id'],
      [
        'ambiguous zip extension for geotiff',
        'data.zip',
        { type: 'image/tiff; application=geotiff' },
        'id',
      ],
      ['unsupported media type', 'data.txt', { type: 'text/x-unknown' }, 'type'],
      ['missing media type', 'data.txt', {}, 'type'],
      ['href on put', 'data.txt', { type: 'text/plain', href: 'http://example.com/x.txt' }, 'href'],
      [
        'invalid geoadmin:lang',
        'data.txt',
        { type: 'text/plain', 'geoadmin:lang': 'es' },
        'geoadmin:lang',
      ],
    ])('rejects %s with 400', async (_case, id, body, field) => {
      const response = await send(itemAssetUrl(emulator, id), 'PUT', body);
      expect(response.status).toBe(400);
      const error = (await response.json()) as {
        code: number;
        description: Record<string, string[]>;
      };
      expect(error.code).toBe(400);
      expect(error.description[field]).toHaveLength(1);
    });

    it('rejects a media type change with 400', async () => {
      const url = itemAssetUrl(emulator, 'fixed-type.json');
      await send(url, 'PUT', { id: 'fixed-type.json', type: 'application/json' });
      const put = await send(url, 'PUT', { id: 'fixed-type.json', type: 'application/geo+json' });
      expect(put.status).toBe(400);
      const patch = await send(url, 'PATCH', { type: 'application/geo+json' });
      expect(patch.status).toBe(400);
    });

    it('patches, lists and deletes an asset', async () => {
      const url = itemAssetUrl(emulator, 'patched.txt');
      await putTextAsset(url, 'patched.txt');
      const patched = await send(url, 'PATCH', { description: 'Patched' });
      expect(patched.status).toBe(200);
      expect(((await patched.json()) as Record<string, unknown>).description).toBe('Patched');

      const list = await fetch(`${emulator.url}/collections/${COLLECTION}/items/${ITEM}/assets`);
      const listBody = (await list.json()) as { assets: { id: string }[] };
      expect(listBody.assets.map((asset) => asset.id)).toContain('patched.txt');

      const deleted = await send(url, 'DELETE');
      expect(deleted.status).toBe(200);
      expect((await fetch(url)).status).toBe(404);
    });
  });

  describe('uploads', () => {
    it('uploads one part and serves the file at href', async () => {
      const url = itemAssetUrl(emulator, 'one-part.txt');
      await putTextAsset(url, 'one-part.txt');
      const data = bytes(3000);
      const { response, body: upload } = await createUpload(url, [data]);
      expect(response.status).toBe(201);
      expect(upload.status).toBe('in-progress');
      expect(upload.urls).toHaveLength(1);
      expect(upload.urls[0].url.startsWith(emulator.origin)).toBe(true);

      const part = await putPart(upload.urls[0].url, data);
      expect(part.status).toBe(200);
      const etag = part.headers.get('etag');
      expect(etag).toBe(`"${createHash('md5').update(data).digest('hex')}"`);

      const complete = await send(`${url}/uploads/${upload.upload_id}/complete`, 'POST', {
        parts: [{ etag, part_number: 1 }],
      });
      expect(complete.status).toBe(200);
      const completed = (await complete.json()) as Record<string, unknown>;
      expect(completed.status).toBe('completed');
      expect(completed.urls).toBeUndefined();

      const asset = (await (await fetch(url)).json()) as Record<string, string>;
      expect(asset['file:checksum']).toBe(multihash(data));
      const download = await fetch(asset.href);
      expect(download.status).toBe(200);
      expect(download.headers.get('content-length')).toBe(String(data.length));
      expect(download.headers.get('content-type')).toBe('text/plain');
      expect(Buffer.from(await download.arrayBuffer()).equals(data)).toBe(true);

      const range = await fetch(asset.href, { headers: { Range: 'bytes=10-19' } });
      expect(range.status).toBe(206);
      expect(Buffer.from(await range.arrayBuffer()).equals(data.subarray(10, 20))).toBe(true);
    });

    it('uploads three parts of a collection asset', async () => {
      const url = `${emulator.url}/collections/${COLLECTION}/assets/three-parts.csv`;
      const created = await send(url, 'PUT', { id: 'three-parts.csv', type: 'text/csv' });
      expect(created.status).toBe(201);
      const parts = [bytes(1024, 1), bytes(1500, 2), bytes(100, 3)];
      const { response, body: upload } = await createUpload(url, parts);
      expect(response.status).toBe(201);
      expect(upload.urls.map((entry) => entry.part)).toEqual([1, 2, 3]);

      const completeBody = await uploadParts(upload, parts);
      const listed = await fetch(`${url}/uploads/${upload.upload_id}/parts`);
      const listedBody = (await listed.json()) as { parts: { size: number }[] };
      expect(listedBody.parts.map((part) => part.size)).toEqual([1024, 1500, 100]);

      const complete = await send(
        `${url}/uploads/${upload.upload_id}/complete`,
        'POST',
        completeBody,
      );
      expect(complete.status).toBe(200);
      const asset = emulator.getAsset(COLLECTION, undefined, 'three-parts.csv') as Record<
        string,
        string
      >;
      const download = Buffer.from(await (await fetch(asset.href)).arrayBuffer());
      expect(download.equals(Buffer.concat(parts))).toBe(true);
    });

    it('checks the checksum of gzip data uncompressed', async () => {
      const url = itemAssetUrl(emulator, 'compressed.json');
      await send(url, 'PUT', { id: 'compressed.json', type: 'application/json' });
      const plain = Buffer.from(JSON.stringify({ hello: 'world' }));
      const compressed = gzipSync(plain);
      const response = await send(`${url}/uploads`, 'POST', {
        number_parts: 1,
        md5_parts: [{ part_number: 1, md5: md5Base64(compressed) }],
        'file:checksum': multihash(plain).toUpperCase(),
        content_encoding: 'gzip',
      });
      expect(response.status).toBe(201);
      const upload = (await response.json()) as UploadBody;
      const complete = await send(
        `${url}/uploads/${upload.upload_id}/complete`,
        'POST',
        await uploadParts(upload, [compressed]),
      );
      expect(complete.status).toBe(200);
    });

    it('rejects a part smaller than the minimum', async () => {
      const url = itemAssetUrl(emulator, 'small-parts.txt');
      await putTextAsset(url, 'small-parts.txt');
      const parts = [bytes(100, 1), bytes(100, 2)];
      const { body: upload } = await createUpload(url, parts);
      const complete = await send(
        `${url}/uploads/${upload.upload_id}/complete`,
        'POST',
        await uploadParts(upload, parts),
      );
      expect(complete.status).toBe(400);
      const error = (await complete.json()) as { description: { parts: string[] } };
      expect(error.description.parts[0]).toMatch(/less than the minimum of 1024 bytes/);
    });

    it('returns 409 with the upload in progress', async () => {
      const url = itemAssetUrl(emulator, 'conflict.txt');
      await putTextAsset(url, 'conflict.txt');
      const data = bytes(10);
      const first = await createUpload(url, [data]);
      expect(first.response.status).toBe(201);

      const second = await createUpload(url, [data]);
      expect(second.response.status).toBe(409);
      expect(second.body).toEqual({
        code: 409,
        description: 'Upload already in progress',
        upload_id: first.body.upload_id,
      });

      const listed = await fetch(`${url}/uploads?status=in-progress`);
      const listedBody = (await listed.json()) as { uploads: { upload_id: string }[] };
      expect(listedBody.uploads.map((upload) => upload.upload_id)).toEqual([first.body.upload_id]);
      expect(emulator.uploadsInProgress().map((upload) => upload.upload_id)).toContain(
        first.body.upload_id,
      );
    });

    it('aborts an upload and drops its parts', async () => {
      const url = itemAssetUrl(emulator, 'aborted.txt');
      await putTextAsset(url, 'aborted.txt');
      const data = bytes(10);
      const { body: upload } = await createUpload(url, [data]);
      await uploadParts(upload, [data]);

      const abort = await send(`${url}/uploads/${upload.upload_id}/abort`, 'POST');
      expect(abort.status).toBe(200);
      const aborted = (await abort.json()) as Record<string, unknown>;
      expect(aborted.status).toBe('aborted');
      expect(typeof aborted.aborted).toBe('string');

      const again = await send(`${url}/uploads/${upload.upload_id}/abort`, 'POST');
      expect(again.status).toBe(409);
      const part = await putPart(upload.urls[0].url, data);
      expect(part.status).toBe(404);
      expect(await part.text()).toMatch(/<Code>NoSuchUpload<\/Code>/);
      const next = await createUpload(url, [data]);
      expect(next.response.status).toBe(201);
    });

    it('returns 409 when completing twice', async () => {
      const url = itemAssetUrl(emulator, 'twice.txt');
      await putTextAsset(url, 'twice.txt');
      const data = bytes(10);
      const { body: upload } = await createUpload(url, [data]);
      const completeBody = await uploadParts(upload, [data]);
      const first = await send(`${url}/uploads/${upload.upload_id}/complete`, 'POST', completeBody);
      expect(first.status).toBe(200);
      const second = await send(
        `${url}/uploads/${upload.upload_id}/complete`,
        'POST',
        completeBody,
      );
      expect(second.status).toBe(409);
      expect(await second.json()).toEqual({ code: 409, description: 'No upload in progress' });
    });

    it('rejects complete with wrong or missing parts', async () => {
      const url = itemAssetUrl(emulator, 'wrong-parts.txt');
      await putTextAsset(url, 'wrong-parts.txt');
      const parts = [bytes(1024, 1), bytes(10, 2)];
      const { body: upload } = await createUpload(url, parts);
      const completeUrl = `${url}/uploads/${upload.upload_id}/complete`;

      const firstOnly = await putPart(upload.urls[0].url, parts[0]);
      const firstEtag = firstOnly.headers.get('etag') as string;
      const missing = await send(completeUrl, 'POST', {
        parts: [
          { etag: firstEtag, part_number: 1 },
          { etag: firstEtag, part_number: 2 },
        ],
      });
      expect(missing.status).toBe(400);

      const completeBody = await uploadParts(upload, parts);
      const tooFew = await send(completeUrl, 'POST', { parts: completeBody.parts.slice(0, 1) });
      expect(tooFew.status).toBe(400);
      const tooMany = await send(completeUrl, 'POST', {
        parts: [...completeBody.parts, { etag: firstEtag, part_number: 3 }],
      });
      expect(tooMany.status).toBe(400);
      const wrongEtag = await send(completeUrl, 'POST', {
        parts: [completeBody.parts[0], { etag: firstEtag, part_number: 2 }],
      });
      expect(wrongEtag.status).toBe(400);

      const valid = await send(completeUrl, 'POST', completeBody);
      expect(valid.status).toBe(200);
    });

    it('rejects a file that does not match file:checksum', async () => {
      const url = itemAssetUrl(emulator, 'bad-checksum.txt');
      await putTextAsset(url, 'bad-checksum.txt');
      const data = bytes(10);
      const { body: upload } = await createUpload(url, [data], bytes(11));
      const complete = await send(
        `${url}/uploads/${upload.upload_id}/complete`,
        'POST',
        await uploadParts(upload, [data]),
      );
      expect(complete.status).toBe(400);
      const status = (await (
        await fetch(`${url}/uploads/${upload.upload_id}`)
      ).json()) as UploadBody;
      expect(status.status).toBe('in-progress');
    });

    it.each([
      ['number_parts 0', { number_parts: 0 }, 'number_parts'],
      ['number_parts 101', { number_parts: 101 }, 'number_parts'],
      ['too few md5_parts', { md5_parts: [] }, 'md5_parts'],
      [
        'md5 of 15 bytes',
        { md5_parts: [{ part_number: 1, md5: Buffer.alloc(15).toString('base64') }] },
        'md5_parts',
      ],
      [
        'part_number out of range',
        { md5_parts: [{ part_number: 2, md5: md5Base64(bytes(1)) }] },
        'md5_parts',
      ],
      ['sha2-512 multihash', { 'file:checksum': `1340${'a'.repeat(128)}` }, 'file:checksum'],
      ['short multihash', { 'file:checksum': `1220${'a'.repeat(63)}` }, 'file:checksum'],
      ['unknown content_encoding', { content_encoding: 'deflate' }, 'content_encoding'],
    ])('rejects an upload with %s', async (_case, override, field) => {
      const url = itemAssetUrl(emulator, 'invalid-upload.txt');
      await putTextAsset(url, 'invalid-upload.txt');
      const response = await send(`${url}/uploads`, 'POST', {
        number_parts: 1,
        md5_parts: [{ part_number: 1, md5: md5Base64(bytes(1)) }],
        'file:checksum': multihash(bytes(1)),
        ...override,
      });
      expect(response.status).toBe(400);
      const error = (await response.json()) as { description: Record<string, string[]> };
      expect(error.description[field]).toHaveLength(1);
    });

    it('returns 404 for an upload of a missing asset', async () => {
      const { response } = await createUpload(itemAssetUrl(emulator, 'no-such-asset.txt'), [
        bytes(1),
      ]);
      expect(response.status).toBe(404);
    });
  });

  describe('presigned part URLs', () => {
    let upload: UploadBody;
    const data = bytes(64);

    beforeAll(async () => {
      const url = itemAssetUrl(emulator, 'presigned.txt');
      await putTextAsset(url, 'presigned.txt');
      upload = (await createUpload(url, [data])).body;
    });

    it('rejects a wrong body with BadDigest', async () => {
      const response = await putPart(upload.urls[0].url, bytes(64, 9), md5Base64(data));
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/<Code>BadDigest<\/Code>/);
    });

    it('rejects a missing Content-MD5 with 403', async () => {
      const response = await putPart(upload.urls[0].url, data, null);
      expect(response.status).toBe(403);
      expect(await response.text()).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
    });

    it('rejects a tampered signature with 403', async () => {
      const url = new URL(upload.urls[0].url);
      const signature = url.searchParams.get('X-Amz-Signature') as string;
      url.searchParams.set(
        'X-Amz-Signature',
        `${signature[0] === 'a' ? 'b' : 'a'}${signature.slice(1)}`,
      );
      const response = await putPart(url.toString(), data);
      expect(response.status).toBe(403);
      expect(await response.text()).toMatch(/<Code>SignatureDoesNotMatch<\/Code>/);
    });

    it('rejects an extended lifetime with 403', async () => {
      const url = new URL(upload.urls[0].url);
      url.searchParams.set('X-Amz-Expires', '999999');
      const response = await putPart(url.toString(), data);
      expect(response.status).toBe(403);
    });

    it('rejects an expired URL with AccessDenied', async () => {
      const expiring = await startStacEmulator({ presignedUrlTtlSecs: 0 });
      try {
        const url = itemAssetUrl(expiring, 'expired.txt');
        await putTextAsset(url, 'expired.txt');
        const { body } = await createUpload(url, [data]);
        // The signing time has a resolution of one second, so wait past it.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const response = await putPart(body.urls[0].url, data);
        expect(response.status).toBe(403);
        const text = await response.text();
        expect(text).toMatch(/<Code>AccessDenied<\/Code>/);
        expect(text).toMatch(/Request has expired/);
      } finally {
        await expiring.close();
      }
    });

    it('logs paths without query strings', () => {
      const partRequests = emulator.requestLog.filter((entry) =>
        entry.path.startsWith('/_upload/'),
      );
      expect(partRequests.length).toBeGreaterThan(0);
      for (const entry of emulator.requestLog) {
        expect(entry.path).not.toContain('?');
      }
    });
  });
});

/** Returns a free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`${url} did not respond within ${timeoutMs} ms`, { cause: error });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function signJwt(privateKey: KeyObject, header: object, claims: object): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(claims)}`;
  const signature = sign('RSA-SHA256', Buffer.from(signingInput), privateKey);
  return `${signingInput}.${signature.toString('base64url')}`;
}

describe('STAC emulator auth with moto Cognito', () => {
  let moto: ChildProcess;
  let emulator: StacEmulator;
  let accessToken: string;
  const assetUrl = () => itemAssetUrl(emulator, 'auth.txt');

  beforeAll(async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    await waitForHttp(endpoint, 20000);

    const cognito = new CognitoIdentityProviderClient({
      endpoint,
      region: 'eu-central-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const pool = await cognito.send(new CreateUserPoolCommand({ PoolName: 'stac-emulator-test' }));
    const userPoolId = pool.UserPool?.Id as string;
    const client = await cognito.send(
      new CreateUserPoolClientCommand({
        UserPoolId: userPoolId,
        ClientName: 'ingest',
        ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH'],
      }),
    );
    const clientId = client.UserPoolClient?.ClientId as string;
    await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: userPoolId,
        Username: 'ingest',
        TemporaryPassword: 'Temp-pass-1!',
      }),
    );
    await cognito.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: userPoolId,
        Username: 'ingest',
        Password: 'Ingest-pass-1!',
        Permanent: true,
      }),
    );
    const auth = await cognito.send(
      new InitiateAuthCommand({
        ClientId: clientId,
        AuthFlow: 'USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: 'ingest', PASSWORD: 'Ingest-pass-1!' },
      }),
    );
    accessToken = auth.AuthenticationResult?.AccessToken as string;
    cognito.destroy();

    emulator = await startStacEmulator({
      auth: {
        jwksUrl: `${endpoint}/${userPoolId}/.well-known/jwks.json`,
        issuer: `https://cognito-idp.eu-central-1.amazonaws.com/${userPoolId}`,
        clientId,
      },
    });
  });

  afterAll(async () => {
    await emulator?.close();
    moto?.kill();
  });

  it('accepts a Cognito access token', async () => {
    const response = await send(
      assetUrl(),
      'PUT',
      { id: 'auth.txt', type: 'text/plain' },
      {
        Authorization: `Bearer ${accessToken}`,
      },
    );
    expect(response.status).toBe(201);
  });

  it('rejects a write without a token', async () => {
    const response = await send(assetUrl(), 'PUT', { id: 'auth.txt', type: 'text/plain' });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const body = (await response.json()) as { code: number };
    expect(body.code).toBe(401);
  });

  it('rejects a tampered token', async () => {
    const [header, payload, signature] = accessToken.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    const forged = Buffer.from(JSON.stringify({ ...claims, username: 'someone-else' })).toString(
      'base64url',
    );
    const response = await send(
      assetUrl(),
      'PATCH',
      { title: 'x' },
      {
        Authorization: `Bearer ${header}.${forged}.${signature}`,
      },
    );
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('allows reads without a token', async () => {
    const response = await fetch(`${emulator.url}/collections/${COLLECTION}`);
    expect(response.status).toBe(200);
  });
});

describe('STAC emulator auth with a local JWKS', () => {
  let jwksServer: Server;
  let emulator: StacEmulator;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const header = { alg: 'RS256', kid: 'test-key' };
  const nowSecs = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    const jwk = {
      ...publicKey.export({ format: 'jwk' }),
      kid: 'test-key',
      alg: 'RS256',
      use: 'sig',
    };
    jwksServer = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    const { port } = jwksServer.address() as AddressInfo;
    emulator = await startStacEmulator({ auth: { jwksUrl: `http://127.0.0.1:${port}/jwks.json` } });
  });

  afterAll(async () => {
    await emulator.close();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  async function putWithToken(token: string): Promise<Response> {
    return send(
      itemAssetUrl(emulator, 'local-jwks.txt'),
      'PUT',
      { id: 'local-jwks.txt', type: 'text/plain' },
      {
        Authorization: `Bearer ${token}`,
      },
    );
  }

  it('accepts a valid access token', async () => {
    const token = signJwt(privateKey, header, { token_use: 'access', exp: nowSecs() + 60 });
    expect((await putWithToken(token)).status).toBeLessThan(300);
  });

  it('rejects an expired token', async () => {
    const token = signJwt(privateKey, header, { token_use: 'access', exp: nowSecs() - 1 });
    const response = await putWithToken(token);
    expect(response.status).toBe(401);
    expect(((await response.json()) as { description: string }).description).toMatch(/expired/);
  });

  it('rejects an id token', async () => {
    const token = signJwt(privateKey, header, { token_use: 'id', exp: nowSecs() + 60 });
    expect((await putWithToken(token)).status).toBe(401);
  });

  it('rejects an unknown key id', async () => {
    const token = signJwt(
      privateKey,
      { ...header, kid: 'other' },
      { token_use: 'access', exp: nowSecs() + 60 },
    );
    expect((await putWithToken(token)).status).toBe(401);
  });
});
