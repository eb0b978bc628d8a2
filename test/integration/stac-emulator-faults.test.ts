import { createHash } from 'node:crypto';
import { type StacEmulator, startStacEmulator } from '../../local/stac-emulator';

const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';

function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

function multihash(data: Buffer): string {
  return `1220${createHash('sha256').update(data).digest('hex')}`;
}

function send(url: string, method: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

describe('STAC emulator fault injection', () => {
  let emulator: StacEmulator;
  let assetUrl: string;

  beforeAll(async () => {
    emulator = await startStacEmulator();
    assetUrl = `${emulator.url}/collections/${COLLECTION}/items/${ITEM}/assets/faults.txt`;
    const response = await send(assetUrl, 'PUT', { id: 'faults.txt', type: 'text/plain' });
    expect(response.status).toBe(201);
  });

  afterEach(() => {
    emulator.faults.clear();
  });

  afterAll(async () => {
    await emulator?.close();
  });

  it('answers the next N matching calls with a status', async () => {
    // Arrange
    emulator.faults.add({
      method: 'GET',
      path: '/faults.txt',
      times: 2,
      action: { kind: 'status', status: 503 },
    });

    // Act
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await send(assetUrl, 'GET')).status);

    // Assert
    expect(statuses).toEqual([503, 503, 200]);
    expect(emulator.faults.list()).toEqual([]);
  });

  it('leaves other methods and paths alone', async () => {
    // Arrange
    emulator.faults.add({
      method: 'PUT',
      path: '/faults.txt',
      action: { kind: 'status', status: 500 },
    });

    // Act
    const response = await send(assetUrl, 'GET');

    // Assert
    expect(response.status).toBe(200);
    expect(emulator.faults.list()).toHaveLength(1);
  });

  it('drops the connection', async () => {
    // Arrange
    emulator.faults.add({ path: '/faults.txt', action: { kind: 'drop' } });

    // Act
    const request = send(assetUrl, 'GET');

    // Assert
    await expect(request).rejects.toThrow('fetch failed');
    expect((await send(assetUrl, 'GET')).status).toBe(200);
  });

  it('hangs until the client gives up', async () => {
    // Arrange
    emulator.faults.add({ path: '/faults.txt', action: { kind: 'hang' } });

    // Act
    const request = fetch(assetUrl, { signal: AbortSignal.timeout(300) });

    // Assert
    await expect(request).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(emulator.requestLog.at(-1)).toEqual({
      method: 'GET',
      path: new URL(assetUrl).pathname,
      status: 0,
    });
  });

  it('runs the before hook with the match number', async () => {
    // Arrange
    const matches: number[] = [];
    emulator.faults.add({
      path: '/faults.txt',
      times: 2,
      action: { kind: 'pass' },
      before: (match) => matches.push(match),
    });

    // Act
    await send(assetUrl, 'GET');
    await send(assetUrl, 'GET');

    // Assert
    expect(matches).toEqual([1, 2]);
  });

  it('expires the presigned URLs of uploads in progress', async () => {
    // Arrange
    const data = Buffer.from('some text\n');
    const created = await send(`${assetUrl}/uploads`, 'POST', {
      number_parts: 1,
      md5_parts: [{ part_number: 1, md5: md5Base64(data) }],
      'file:checksum': multihash(data),
    });
    const upload = (await created.json()) as { upload_id: string; urls: { url: string }[] };

    // Act
    const expired = emulator.expirePresignedUrls();
    const response = await fetch(upload.urls[0].url, {
      method: 'PUT',
      headers: { 'Content-MD5': md5Base64(data) },
      body: data,
    });

    // Assert
    expect(expired).toBe(1);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>AccessDenied</Code>');
    await send(`${assetUrl}/uploads/${upload.upload_id}/abort`, 'POST', {});
    expect(emulator.uploadStatus(upload.upload_id)).toBe('aborted');
  });

  it('manages faults over HTTP', async () => {
    // Arrange
    const added = await send(`${emulator.origin}/_faults`, 'POST', {
      method: 'GET',
      path: '/faults.txt',
      status: 429,
    });

    // Act
    const listed = (await (await send(`${emulator.origin}/_faults`, 'GET')).json()) as {
      faults: unknown[];
    };
    const faulted = await send(assetUrl, 'GET');
    const invalid = await send(`${emulator.origin}/_faults`, 'POST', { path: '/x' });

    // Assert
    expect(added.status).toBe(201);
    expect(listed.faults).toHaveLength(1);
    expect(faulted.status).toBe(429);
    expect(invalid.status).toBe(400);
  });
});
