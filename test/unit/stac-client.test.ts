import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import type { TokenProvider } from '../../lambdas/ingest/cognito';
import { redactUrl, StacApiError, StacClient } from '../../lambdas/ingest/stac-client';

type Route = (request: IncomingMessage, body: string, response: ServerResponse) => void;

/** Starts a loopback HTTP server whose responses the test scripts, one route call at a time. */
async function startServer(
  route: Route,
): Promise<{ url: string; server: Server; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      calls.push(`${request.method} ${request.url} ${request.headers.authorization ?? '-'}`);
      route(request, Buffer.concat(chunks).toString('utf8'), response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/api/stac/v1`, server, calls };
}

function fakeTokens(): TokenProvider & { invalidated: string[] } {
  let counter = 1;
  const invalidated: string[] = [];
  return {
    invalidated,
    getToken: async () => `token-${counter}`,
    invalidate: (token?: string) => {
      invalidated.push(token ?? '');
      counter += 1;
    },
  } as unknown as TokenProvider & { invalidated: string[] };
}

const TARGET = { collection: 'ch.swisstopo.demo', item: 'item-1', asset: 'file.tif' };

describe('stac-client', () => {
  let server: Server | undefined;

  afterEach(async () => {
    const running = server;
    server = undefined;
    if (running !== undefined) await new Promise((resolve) => running.close(resolve));
  });

  describe('redactUrl', () => {
    it('drops the query string', () => {
      expect(redactUrl('http://h/p/part?X-Amz-Signature=abc&X-Amz-Expires=60')).toBe(
        'http://h/p/part',
      );
    });

    it('keeps a URL without query', () => {
      expect(redactUrl('http://h/p')).toBe('http://h/p');
    });
  });

  describe('StacClient', () => {
    it('builds item and collection asset paths', () => {
      // Arrange
      const client = new StacClient({
        baseUrl: 'http://127.0.0.1:1/api/stac/v1/',
        tokens: fakeTokens(),
      });

      // Act and assert
      expect(client.assetPath(TARGET)).toBe(
        '/collections/ch.swisstopo.demo/items/item-1/assets/file.tif',
      );
      expect(client.assetPath({ collection: 'c', asset: 'a.csv' })).toBe(
        '/collections/c/assets/a.csv',
      );
    });

    it('returns undefined for a missing asset', async () => {
      // Arrange
      const started = await startServer((_request, _body, response) => {
        response.writeHead(404, { 'Content-Type': 'application/json' });
        response.end('{"code":404,"description":"Not found"}');
      });
      server = started.server;
      const client = new StacClient({ baseUrl: started.url, tokens: fakeTokens() });

      // Act
      const asset = await client.getAsset(TARGET);

      // Assert
      expect(asset).toBeUndefined();
      expect(started.calls).toEqual([
        'GET /api/stac/v1/collections/ch.swisstopo.demo/items/item-1/assets/file.tif -',
      ]);
    });

    it('rejects a 200 without an asset', async () => {
      // Arrange
      const started = await startServer((_request, _body, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html' });
        response.end('<html>maintenance</html>');
      });
      server = started.server;
      const client = new StacClient({ baseUrl: started.url, tokens: fakeTokens() });

      // Act
      const asset = client.getAsset(TARGET);

      // Assert
      await expect(asset).rejects.toThrow(StacApiError);
      await expect(asset).rejects.toMatchObject({ retryable: true });
      await expect(asset).rejects.toThrow(/without an asset in its body/);
    });

    it('renews the token once after a 401', async () => {
      // Arrange
      const started = await startServer((request, _body, response) => {
        const ok = request.headers.authorization === 'Bearer token-2';
        response.writeHead(ok ? 201 : 401, { 'Content-Type': 'application/json' });
        response.end(ok ? '{}' : '{"code":401,"description":"Unauthorized"}');
      });
      server = started.server;
      const tokens = fakeTokens();
      const client = new StacClient({ baseUrl: started.url, tokens });

      // Act
      const created = await client.putAsset(TARGET, { id: 'file.tif', type: 'image/tiff' });

      // Assert
      expect(created).toBe(true);
      expect(tokens.invalidated).toEqual(['token-1']);
      expect(started.calls.map((call) => call.split(' ')[2])).toEqual(['Bearer', 'Bearer']);
    });

    it('fails after a second 401', async () => {
      // Arrange
      const started = await startServer((_request, _body, response) => {
        response.writeHead(401, { 'Content-Type': 'application/json' });
        response.end('{"code":401,"description":"Unauthorized"}');
      });
      server = started.server;
      const client = new StacClient({ baseUrl: started.url, tokens: fakeTokens() });

      // Act
      const put = client.putAsset(TARGET, { id: 'file.tif', type: 'image/tiff' });

      // Assert
      await expect(put).rejects.toThrow(StacApiError);
      await expect(put).rejects.toMatchObject({ status: 401 });
      expect(started.calls).toHaveLength(2);
    });

    it('retries a 503 and then succeeds', async () => {
      // Arrange
      let calls = 0;
      const started = await startServer((_request, _body, response) => {
        calls += 1;
        response.writeHead(calls < 3 ? 503 : 200, { 'Content-Type': 'application/json' });
        response.end('{}');
      });
      server = started.server;
      const retries: number[] = [];
      const client = new StacClient({
        baseUrl: started.url,
        tokens: fakeTokens(),
        onRetry: ({ attempt }) => retries.push(attempt),
      });

      // Act
      const created = await client.putAsset(TARGET, { id: 'file.tif', type: 'image/tiff' });

      // Assert
      expect(created).toBe(false);
      expect(retries).toEqual([1, 2]);
    });

    it('does not retry a 400 and names the description', async () => {
      // Arrange
      const started = await startServer((_request, _body, response) => {
        response.writeHead(400, { 'Content-Type': 'application/json' });
        response.end('{"code":400,"description":{"id":["Invalid id"]}}');
      });
      server = started.server;
      const client = new StacClient({ baseUrl: started.url, tokens: fakeTokens() });

      // Act
      const put = client.putAsset(TARGET, { id: 'file.tif', type: 'image/tiff' });

      // Assert
      await expect(put).rejects.toThrow(
        'PUT /collections/ch.swisstopo.demo/items/item-1/assets/file.tif failed with HTTP 400: {"id":["Invalid id"]}',
      );
      await expect(put).rejects.toMatchObject({ retryable: false });
      expect(started.calls).toHaveLength(1);
    });

    it('sends a part with Content-MD5 and returns its ETag', async () => {
      // Arrange
      let received: { md5?: string; length?: string; body: string } = { body: '' };
      const started = await startServer((request, body, response) => {
        received = {
          md5: request.headers['content-md5'] as string,
          length: request.headers['content-length'],
          body,
        };
        response.writeHead(200, { ETag: '"abc"' });
        response.end();
      });
      server = started.server;
      const client = new StacClient({ baseUrl: started.url, tokens: fakeTokens() });

      // Act
      const etag = await client.uploadPart(
        `${started.url}/part?X-Amz-Signature=secret`,
        { partNumber: 1, md5: 'kAFQmDzST7DWlj99KOF/cg==', size: 3 },
        async () => Readable.from([Buffer.from('abc')]),
      );

      // Assert
      expect(etag).toBe('"abc"');
      expect(received).toEqual({ md5: 'kAFQmDzST7DWlj99KOF/cg==', length: '3', body: 'abc' });
    });

    it('reports an S3 error code without the signature', async () => {
      // Arrange
      const started = await startServer((_request, _body, response) => {
        response.writeHead(400, { 'Content-Type': 'application/xml' });
        response.end(
          '<Error><Code>BadDigest</Code><Message>The Content-MD5 you specified did not match.</Message></Error>',
        );
      });
      server = started.server;
      const client = new StacClient({ baseUrl: started.url, tokens: fakeTokens() });

      // Act
      const upload = client.uploadPart(
        `${started.url}/part?X-Amz-Signature=secret-signature`,
        { partNumber: 2, md5: 'AAAAAAAAAAAAAAAAAAAAAA==', size: 3 },
        async () => Readable.from([Buffer.from('abc')]),
      );

      // Assert
      await expect(upload).rejects.toThrow(
        `PUT part 2 to ${started.url}/part failed with HTTP 400: BadDigest: The Content-MD5 you specified did not match.`,
      );
      await expect(upload).rejects.not.toThrow(/secret-signature/);
    });
  });
});
