import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AdminSetUserPasswordCommand,
  AdminUserGlobalSignOutCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent } from 'aws-lambda';
import type { BatchResult } from '../../local/poller';
import { countMessages, type LocalStack, startLocalStack } from '../../local/stack';
import { captureLogs, type LogCapture } from '../helpers/log-capture';

const COLLECTION = 'ch.swisstopo.ingest-demo';
const ITEM = 'demo-item';

function multihash(data: Buffer): string {
  return `1220${createHash('sha256').update(data).digest('hex')}`;
}

function md5Base64(data: Buffer): string {
  return createHash('md5').update(data).digest('base64');
}

/** Distinct CSV content per test, so that no asset is unchanged by accident. */
function csv(label: string): Buffer {
  return Buffer.from(`label,value\n${label},${Date.now()}\n`);
}

function lambdaContext(): Context {
  const deadline = Date.now() + 60_000;
  return {
    awsRequestId: `direct-${Date.now()}`,
    functionName: 'stac-ingest-local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as unknown as Context;
}

describe('ingest reliability', () => {
  let stack: LocalStack;
  let logs: LogCapture;
  let batchHook: ((result: BatchResult) => void) | undefined;
  const batches: BatchResult[] = [];

  beforeAll(async () => {
    logs = captureLogs();
    stack = await startLocalStack({
      stateFile: false,
      logLevel: 'INFO',
      metrics: false,
      partSizeMib: 5,
      // A short invocation, so that running out of time takes seconds.
      timeoutMs: 8000,
      deadLetterFastPath: true,
      env: {
        STAC_REQUEST_TIMEOUT_SECS: '2',
        DEADLINE_MARGIN_SECS: '4',
      },
      onBatch: (result) => {
        batches.push(result);
        batchHook?.(result);
      },
    });
  });

  afterEach(() => {
    stack.stac.faults.clear();
    batchHook = undefined;
  });

  afterAll(async () => {
    await stack?.stop();
    logs?.stop();
  });

  async function put(
    key: string,
    body: Buffer,
    metadata?: Record<string, string>,
    contentEncoding?: string,
  ): Promise<void> {
    await stack.clients.s3.send(
      new PutObjectCommand({
        Bucket: stack.info.bucket,
        Key: key,
        Body: body,
        Metadata: metadata,
        ContentEncoding: contentEncoding,
      }),
    );
  }

  function requests(method: string, pathEnd: string | RegExp, status?: number) {
    return stack.stac.requestLog.filter(
      (entry) =>
        entry.method === method &&
        (typeof pathEnd === 'string' ? entry.path.endsWith(pathEnd) : pathEnd.test(entry.path)) &&
        (status === undefined || entry.status === status),
    );
  }

  function messagesSince(from: number): string[] {
    return logs.records(from).map((record) => String(record.message));
  }

  function checksumOf(asset: string): string | undefined {
    const value = stack.stac.getAsset(COLLECTION, ITEM, asset)?.['file:checksum'];
    return value === undefined ? undefined : String(value).toLowerCase();
  }

  /** Puts a file and waits until every message is handled. */
  async function ingest(asset: string, body: Buffer): Promise<void> {
    await put(`${COLLECTION}/${ITEM}/${asset}`, body);
    await stack.poller?.idle();
  }

  async function expectQueuesEmpty(): Promise<void> {
    expect(await countMessages(stack.clients.sqs, stack.info.queueUrl)).toBe(0);
    expect(await countMessages(stack.clients.sqs, stack.info.deadLetterQueueUrl)).toBe(0);
  }

  /** Creates an upload in progress on the asset, as another invocation would. */
  async function createForeignUpload(asset: string, body: Buffer): Promise<string> {
    const runtime = stack.runtime();
    if (runtime === undefined) throw new Error('The function has not run yet');
    const target = { collection: COLLECTION, item: ITEM, asset };
    await runtime.stac.putAsset(target, { id: asset, type: 'text/csv' });
    const upload = await runtime.stac.createUpload(target, {
      number_parts: 1,
      md5_parts: [{ part_number: 1, md5: md5Base64(body) }],
      'file:checksum': multihash(body),
    });
    return upload.upload_id;
  }

  it('warms up with one ingest', async () => {
    // Act
    const body = csv('warm-up');
    await ingest('warm-up.csv', body);

    // Assert
    expect(checksumOf('warm-up.csv')).toBe(multihash(body));
    expect(stack.runtime()).toBeDefined();
  });

  it('retries a 503 from the API with backoff', async () => {
    // Arrange
    const from = logs.lines.length;
    stack.stac.faults.add({
      method: 'PUT',
      path: '/retry-503.csv',
      times: 2,
      action: { kind: 'status', status: 503 },
    });
    const body = csv('retry-503');

    // Act
    await ingest('retry-503.csv', body);

    // Assert
    expect(checksumOf('retry-503.csv')).toBe(multihash(body));
    const retries = logs
      .records(from)
      .filter((record) => record.message === 'Retrying STAC API request');
    expect(retries.map((record) => record.status)).toEqual([503, 503]);
    expect(requests('PUT', '/retry-503.csv', 503)).toHaveLength(2);
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('retries a failed part PUT on its own', async () => {
    // Arrange
    const from = logs.lines.length;
    stack.stac.faults.add({ method: 'PUT', path: /^\/_upload\//, action: { kind: 'drop' } });
    stack.stac.faults.add({
      method: 'PUT',
      path: /^\/_upload\//,
      action: { kind: 'status', status: 503 },
    });
    const uploadsBefore = requests('POST', '/part-retry.csv/uploads').length;
    const partsBefore = requests('PUT', /^\/_upload\//).length;
    const body = csv('part-retry');

    // Act
    await ingest('part-retry.csv', body);

    // Assert
    expect(checksumOf('part-retry.csv')).toBe(multihash(body));
    expect(requests('POST', '/part-retry.csv/uploads').length - uploadsBefore).toBe(1);
    expect(requests('PUT', /^\/_upload\//).length - partsBefore).toBe(3);
    const retried = logs
      .records(from)
      .filter((record) => String(record.operation).startsWith('PUT part 1'));
    expect(retried).toHaveLength(2);
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('leaves a 500 to the next delivery', async () => {
    // Arrange
    const from = logs.lines.length;
    stack.stac.faults.add({
      method: 'POST',
      path: '/retry-500.csv/uploads',
      action: { kind: 'status', status: 500 },
    });
    const body = csv('retry-500');

    // Act
    await ingest('retry-500.csv', body);

    // Assert
    expect(checksumOf('retry-500.csv')).toBe(multihash(body));
    expect(requests('POST', '/retry-500.csv/uploads').map((entry) => entry.status)).toEqual([
      500, 201,
    ]);
    const messages = messagesSince(from);
    expect(messages).toContain('Ingest failed, the record will be retried');
    expect(messages).not.toContain('Retrying STAC API request');
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('dead-letters a 400 from upload creation at once', async () => {
    // Arrange
    const from = logs.lines.length;
    const batchesBefore = batches.length;
    stack.stac.faults.add({
      method: 'POST',
      path: '/reject-400.csv/uploads',
      action: {
        kind: 'status',
        status: 400,
        body: { code: 400, description: { md5_parts: ['Invalid md5 for part 1.'] } },
      },
    });

    // Act
    await ingest('reject-400.csv', csv('reject-400'));

    // Assert
    expect(requests('POST', '/reject-400.csv/uploads')).toHaveLength(1);
    expect(batches.length - batchesBefore).toBe(1);
    expect(messagesSince(from)).toContain(
      'Message failed permanently and was sent to the dead-letter queue',
    );
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    expect(await countMessages(stack.clients.sqs, stack.info.queueUrl)).toBe(0);
    const dead = await receiveDeadLetters();
    expect(dead).toHaveLength(1);
    expect(dead[0].key).toBe(`${COLLECTION}/${ITEM}/reject-400.csv`);
    expect(dead[0].errorName).toBe('StacApiError');
    expect(dead[0].errorMessage).toContain('HTTP 400');
    // The asset was created for this upload only, so it is gone with the failure.
    expect(stack.stac.getAsset(COLLECTION, ITEM, 'reject-400.csv')).toBeUndefined();
    expect(messagesSince(from)).toContain(
      'Deleted the asset created for the failed upload, so no asset without a file remains',
    );
  });

  it('retries the record when the part URLs expire twice', async () => {
    // Arrange: the first two uploads get expired URLs, the next delivery goes through.
    const from = logs.lines.length;
    stack.stac.faults.add({
      method: 'PUT',
      path: /^\/_upload\//,
      times: 2,
      action: { kind: 'pass' },
      before: () => stack.stac.expirePresignedUrls(),
    });
    const body = csv('expired-twice');

    // Act
    await ingest('expired-twice.csv', body);

    // Assert
    expect(requests('POST', '/expired-twice.csv/uploads', 201)).toHaveLength(3);
    const failed = logs
      .records(from)
      .find((record) => record.message === 'Ingest failed, the record will be retried');
    expect(String(failed?.reason)).toContain('expired again');
    expect(checksumOf('expired-twice.csv')).toBe(multihash(body));
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('aborts its upload when the invocation runs out of time', async () => {
    // Arrange: every part PUT hangs until the first invocation has ended.
    const from = logs.lines.length;
    const batchesBefore = batches.length;
    stack.stac.faults.add({
      method: 'PUT',
      path: /^\/_upload\//,
      times: 100,
      action: { kind: 'hang' },
    });
    batchHook = () => stack.stac.faults.clear();
    const body = csv('deadline');

    // Act
    await ingest('deadline.csv', body);

    // Assert
    const first = batches[batchesBefore];
    expect(first.error).toBeUndefined();
    expect(first.retriedMessageIds).toHaveLength(1);
    expect(requests('POST', /\/deadline\.csv\/uploads\/[^/]+\/abort$/, 200)).toHaveLength(1);
    const aborted = logs
      .records(from)
      .find((record) => record.message === 'Upload aborted after a failure');
    expect(String(aborted?.cause)).toContain('failed');
    expect(checksumOf('deadline.csv')).toBe(multihash(body));
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('starts again once when the part URLs expired', async () => {
    // Arrange
    const from = logs.lines.length;
    stack.stac.faults.add({
      method: 'PUT',
      path: /^\/_upload\//,
      action: { kind: 'pass' },
      before: () => stack.stac.expirePresignedUrls(),
    });
    const body = csv('expired-urls');

    // Act
    await ingest('expired-urls.csv', body);

    // Assert
    expect(checksumOf('expired-urls.csv')).toBe(multihash(body));
    expect(requests('POST', '/expired-urls.csv/uploads', 201)).toHaveLength(2);
    expect(requests('POST', /\/expired-urls\.csv\/uploads\/[^/]+\/abort$/, 200)).toHaveLength(1);
    expect(messagesSince(from)).toContain(
      'Presigned part URLs expired: the upload was aborted and starts again',
    );
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('aborts a stale upload in progress and starts again', async () => {
    // Arrange: an upload from 20 minutes ago, and the documented 400 for a second upload.
    const from = logs.lines.length;
    const body = csv('stale');
    const staleId = await createForeignUpload('stale.csv', body);
    stack.stac.setUploadCreated(staleId, new Date(Date.now() - 20 * 60 * 1000));
    stack.stac.faults.add({
      method: 'POST',
      path: '/stale.csv/uploads',
      action: {
        kind: 'status',
        status: 400,
        body: { code: 400, description: 'Upload already in progress' },
      },
    });

    // Act
    await ingest('stale.csv', body);

    // Assert
    expect(stack.stac.uploadStatus(staleId)).toBe('aborted');
    expect(checksumOf('stale.csv')).toBe(multihash(body));
    const aborted = logs
      .records(from)
      .find(
        (record) => record.message === 'Aborted a stale upload in progress of another invocation',
      );
    expect(aborted?.stale_upload_id).toBe(staleId);
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('keeps a new asset that another upload has taken over', async () => {
    // Arrange: right after the function creates the asset, another invocation starts its
    // upload; that upload ends before the record's second delivery.
    const from = logs.lines.length;
    const body = csv('race');
    const target = { collection: COLLECTION, item: ITEM, asset: 'race.csv' };
    let otherId = '';
    let creatingOther = false;
    let functionCreates = 0;
    stack.stac.faults.add({
      method: 'POST',
      path: '/race.csv/uploads',
      // The other invocation's own create passes through this rule too.
      times: 3,
      action: { kind: 'pass' },
      before: async () => {
        if (creatingOther) return;
        functionCreates += 1;
        const runtime = stack.runtime();
        if (runtime === undefined) throw new Error('The function has not run yet');
        if (functionCreates === 1) {
          creatingOther = true;
          const upload = await runtime.stac.createUpload(target, {
            number_parts: 1,
            md5_parts: [{ part_number: 1, md5: md5Base64(body) }],
            'file:checksum': multihash(body),
          });
          creatingOther = false;
          otherId = upload.upload_id;
          return;
        }
        // The asset survived the first delivery's failure, with the other upload in it.
        expect(stack.stac.getAsset(COLLECTION, ITEM, 'race.csv')).toBeDefined();
        expect(stack.stac.uploadStatus(otherId)).toBe('in-progress');
        await runtime.stac.abortUpload(target, otherId);
      },
    });

    // Act
    await ingest('race.csv', body);

    // Assert
    expect(requests('DELETE', '/race.csv')).toHaveLength(0);
    expect(messagesSince(from)).not.toContain(
      'Deleted the asset created for the failed upload, so no asset without a file remains',
    );
    expect(checksumOf('race.csv')).toBe(multihash(body));
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('leaves a recent upload in progress alone', async () => {
    // Arrange: the other invocation ends its upload before the record's second delivery.
    const from = logs.lines.length;
    const body = csv('busy');
    const otherId = await createForeignUpload('busy.csv', body);
    const abortsBefore = requests('POST', /\/abort$/).length;
    const createsBefore = requests('POST', '/busy.csv/uploads').length;
    stack.stac.faults.add({
      method: 'POST',
      path: '/busy.csv/uploads',
      times: 2,
      action: { kind: 'pass' },
      before: async (match) => {
        if (match !== 2) return;
        const target = { collection: COLLECTION, item: ITEM, asset: 'busy.csv' };
        expect(stack.stac.uploadStatus(otherId)).toBe('in-progress');
        await stack.runtime()?.stac.abortUpload(target, otherId);
      },
    });

    // Act
    await ingest('busy.csv', body);

    // Assert: the only abort is the one the other invocation sent.
    expect(
      requests('POST', '/busy.csv/uploads')
        .slice(createsBefore)
        .map((entry) => entry.status),
    ).toEqual([409, 201]);
    expect(requests('POST', /\/abort$/).length - abortsBefore).toBe(1);
    const failed = logs
      .records(from)
      .find((record) => record.message === 'Ingest failed, the record will be retried');
    expect(String(failed?.reason)).toContain(`has upload ${otherId} in progress`);
    expect(checksumOf('busy.csv')).toBe(multihash(body));
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('renews the token after a 401', async () => {
    // Arrange
    const from = logs.lines.length;
    const before = stack.runtime()?.tokens.stats;
    stack.stac.expireTokens();
    const body = csv('token-401');

    // Act
    await ingest('token-401.csv', body);

    // Assert
    expect(checksumOf('token-401.csv')).toBe(multihash(body));
    expect(requests('PUT', '/token-401.csv', 401)).toHaveLength(1);
    expect(stack.runtime()?.tokens.stats).toEqual({
      logins: before?.logins,
      refreshes: (before?.refreshes ?? 0) + 1,
    });
    const retry = logs
      .records(from)
      .find((record) => record.message === 'Retrying STAC API request');
    expect(retry?.status).toBe(401);
    await expectQueuesEmpty();
  });

  it('logs in with the password when the refresh fails', async () => {
    // Arrange: a global sign-out revokes the refresh token.
    const from = logs.lines.length;
    const before = stack.runtime()?.tokens.stats;
    const secret = await readSecret();
    await stack.clients.cognito.send(
      new AdminUserGlobalSignOutCommand({
        UserPoolId: stack.info.userPoolId,
        Username: secret.username,
      }),
    );
    stack.stac.expireTokens();
    const body = csv('refresh-fails');

    // Act
    await ingest('refresh-fails.csv', body);

    // Assert
    expect(checksumOf('refresh-fails.csv')).toBe(multihash(body));
    expect(stack.runtime()?.tokens.stats).toEqual({
      logins: (before?.logins ?? 0) + 1,
      refreshes: (before?.refreshes ?? 0) + 1,
    });
    expect(messagesSince(from)).toContain('Token refresh failed, logging in with the password');
    await expectQueuesEmpty();
  });

  it('reads a rotated secret again', async () => {
    // Arrange: rotate the password while the function caches the old secret.
    const runtime = stack.runtime();
    const readsBefore = runtime?.secrets.readCount ?? 0;
    const loginsBefore = runtime?.tokens.stats.logins ?? 0;
    const secret = await readSecret();
    const rotated = { ...secret, password: `Rotated-${Date.now()}-Pw1!` };
    await stack.clients.cognito.send(
      new AdminSetUserPasswordCommand({
        UserPoolId: stack.info.userPoolId,
        Username: secret.username,
        Password: rotated.password,
        Permanent: true,
      }),
    );
    await stack.clients.secrets.send(
      new PutSecretValueCommand({
        SecretId: stack.info.secretId,
        SecretString: JSON.stringify(rotated),
      }),
    );
    await stack.clients.cognito.send(
      new AdminUserGlobalSignOutCommand({
        UserPoolId: stack.info.userPoolId,
        Username: secret.username,
      }),
    );
    stack.stac.expireTokens();
    const body = csv('rotated');

    // Act
    await ingest('rotated.csv', body);

    // Assert: the old password is rejected, the secret is read again and the login succeeds.
    expect(checksumOf('rotated.csv')).toBe(multihash(body));
    expect(stack.runtime()?.secrets.readCount).toBe(readsBefore + 1);
    expect(stack.runtime()?.tokens.stats.logins).toBe(loginsBefore + 2);
    await expectQueuesEmpty();
  });

  it('retries the record while the secret is invalid', async () => {
    // Arrange: store a secret that is not JSON and drop the function's cached secret and token.
    const runtime = stack.runtime();
    const original = await stack.clients.secrets.send(
      new GetSecretValueCommand({ SecretId: stack.info.secretId }),
    );
    await stack.clients.secrets.send(
      new PutSecretValueCommand({ SecretId: stack.info.secretId, SecretString: 'not json' }),
    );
    runtime?.secrets.invalidate();
    runtime?.tokens.invalidate();
    stack.stac.expireTokens();
    const restored: BatchResult[] = [];
    batchHook = (result) => {
      if (restored.length > 0) return;
      restored.push(result);
      void stack.clients.secrets.send(
        new PutSecretValueCommand({
          SecretId: stack.info.secretId,
          SecretString: original.SecretString,
        }),
      );
    };
    const from = logs.lines.length;
    const body = csv('secret-outage');

    // Act
    try {
      await ingest('secret-outage.csv', body);
    } finally {
      await stack.clients.secrets.send(
        new PutSecretValueCommand({
          SecretId: stack.info.secretId,
          SecretString: original.SecretString,
        }),
      );
    }

    // Assert: the first delivery fails as retryable, the next one succeeds once the secret is fixed.
    expect(restored[0]?.retriedMessageIds).toHaveLength(1);
    const failed = logs
      .records(from)
      .find((record) => record.message === 'Ingest failed, the record will be retried');
    expect(String(failed?.reason)).toContain('is not valid JSON');
    expect(JSON.stringify(logs.records(from))).not.toContain('not json');
    expect(checksumOf('secret-outage.csv')).toBe(multihash(body));
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('handles the same object twice in a batch once', async () => {
    // Arrange
    const from = logs.lines.length;
    const key = `${COLLECTION}/${ITEM}/twice.csv`;
    const body = csv('twice');
    await put(key, body);
    await stack.poller?.idle();
    // Another client registers other content, so that the next ingest uploads again.
    await registerDirectly('twice.csv', csv('twice-other'));
    const uploadsBefore = requests('POST', '/twice.csv/uploads').length;
    const event = s3EventMessage(key);
    const sqsEvent: SQSEvent = {
      Records: [sqsRecord('m-1', event), sqsRecord('m-2', event)],
    };

    // Act
    const response = await stack.handler(sqsEvent, lambdaContext());

    // Assert
    expect(response.batchItemFailures).toEqual([]);
    expect(requests('POST', '/twice.csv/uploads').length - uploadsBefore).toBe(1);
    expect(messagesSince(from)).toContain('Same object twice in the batch, handled once');
    expect(checksumOf('twice.csv')).toBe(multihash(body));
    expect(stack.stac.uploadsInProgress()).toEqual([]);
  });

  it('treats an uppercase checksum as the same file', async () => {
    // Arrange: another client registered the file with an uppercase checksum.
    const body = csv('uppercase');
    await registerDirectly('uppercase.csv', body, { uppercase: true });
    const from = logs.lines.length;
    const uploadsBefore = requests('POST', '/uppercase.csv/uploads').length;

    // Act
    await ingest('uppercase.csv', body);

    // Assert
    expect(String(stack.stac.getAsset(COLLECTION, ITEM, 'uppercase.csv')?.['file:checksum'])).toBe(
      multihash(body).toUpperCase(),
    );
    expect(requests('POST', '/uppercase.csv/uploads').length).toBe(uploadsBefore);
    expect(messagesSince(from)).toContain('Object unchanged');
    await expectQueuesEmpty();
  });

  it('skips an object deleted before processing', async () => {
    // Arrange
    const from = logs.lines.length;
    const key = `${COLLECTION}/${ITEM}/deleted.csv`;
    await put(key, csv('deleted'));
    await stack.poller?.idle();
    await stack.clients.s3.send(new DeleteObjectCommand({ Bucket: stack.info.bucket, Key: key }));
    await stack.poller?.idle();
    const putsBefore = requests('PUT', '/deleted.csv').length;

    // Act: a late duplicate of the creation event.
    await stack.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.info.queueUrl,
        MessageBody: JSON.stringify(s3EventMessage(key)),
      }),
    );
    await stack.poller?.idle();

    // Assert
    const skipped = logs.records(from).find((record) => record.message === 'Object skipped');
    expect(skipped?.key).toBe(key);
    expect(skipped?.reason).toBe('object-deleted');
    expect(requests('PUT', '/deleted.csv').length).toBe(putsBefore);
    await expectQueuesEmpty();
  });

  it('fails the record when the object changes during processing', async () => {
    // Arrange: the object is overwritten right before the upload is created.
    const from = logs.lines.length;
    const key = `${COLLECTION}/${ITEM}/overwritten.csv`;
    const newer = csv('overwritten-newer');
    stack.stac.faults.add({
      method: 'POST',
      path: '/overwritten.csv/uploads',
      action: { kind: 'pass' },
      before: () => put(key, newer),
    });

    // Act
    await put(key, csv('overwritten-older'));
    await stack.poller?.idle();

    // Assert
    const failed = logs
      .records(from)
      .find((record) => record.message === 'Ingest failed, the record will be retried');
    expect(String(failed?.reason)).toContain('changed or was deleted while it was read');
    expect(checksumOf('overwritten.csv')).toBe(multihash(newer));
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    await expectQueuesEmpty();
  });

  it('dead-letters invalid input on the first receive', async () => {
    // Arrange
    const from = logs.lines.length;
    const cases: {
      key: string;
      body: Buffer;
      metadata?: Record<string, string>;
      contentEncoding?: string;
      error: string;
      text: string;
    }[] = [
      {
        key: 'Not A Collection/file.csv',
        body: csv('layout'),
        error: 'InvalidKeyError',
        text: 'Not A Collection',
      },
      {
        key: `${COLLECTION}/Item 1/file.csv`,
        body: csv('id'),
        error: 'InvalidKeyError',
        text: 'Item 1',
      },
      {
        key: `${COLLECTION}/${ITEM}/file.xyz`,
        body: csv('ext'),
        error: 'InvalidKeyError',
        text: 'file.xyz',
      },
      {
        key: `${COLLECTION}/${ITEM}/data.zip`,
        body: csv('zip'),
        error: 'UnsupportedMediaTypeError',
        text: 'data.zip',
      },
      {
        key: `${COLLECTION}/${ITEM}/epsg.csv`,
        body: csv('epsg'),
        metadata: { 'proj-epsg': 'abc' },
        error: 'InvalidMetadataError',
        text: 'abc',
      },
      {
        key: `${COLLECTION}/no-such-item/file.csv`,
        body: csv('item'),
        error: 'MissingParentError',
        text: 'Item "no-such-item" of collection',
      },
      {
        key: `ch.swisstopo.no-such-collection/${ITEM}/file.csv`,
        body: csv('collection'),
        error: 'MissingParentError',
        text: 'Collection "ch.swisstopo.no-such-collection" does not exist',
      },
      {
        key: `${COLLECTION}/${ITEM}/deflated.csv`,
        body: csv('deflate'),
        contentEncoding: 'deflate',
        error: 'InvalidInputError',
        text: 'Content-Encoding "deflate"',
      },
      {
        key: `${COLLECTION}/${ITEM}/empty.csv`,
        body: Buffer.alloc(0),
        error: 'InvalidInputError',
        text: '0 bytes',
      },
    ];

    // Act
    for (const entry of cases) {
      await put(entry.key, entry.body, entry.metadata, entry.contentEncoding);
    }
    await stack.poller?.idle();

    // Assert
    expect(await countMessages(stack.clients.sqs, stack.info.queueUrl)).toBe(0);
    const dead = await receiveDeadLetters();
    const records = logs.records(from);
    for (const entry of cases) {
      const letter = dead.find((candidate) => candidate.key === entry.key);
      expect(letter?.errorName).toBe(entry.error);
      expect(letter?.errorMessage).toContain(entry.text);
      const failures = records.filter(
        (record) => record.message === 'Ingest failed' && record.key === entry.key,
      );
      expect(failures).toHaveLength(1);
      expect(String(failures[0].reason)).toContain(entry.text);
    }
    expect(dead).toHaveLength(cases.length);
    expect(stack.stac.uploadsInProgress()).toEqual([]);
  });

  it('writes no credential to the log', async () => {
    // Arrange: every value that must stay secret.
    const secret = await readSecret();
    const runtime = stack.runtime();
    if (runtime === undefined) throw new Error('The function has not run yet');
    // Test-only look at the provider's cache, to search the log for the live tokens.
    const tokens = (
      runtime.tokens as unknown as { cached?: { accessToken: string; refreshToken?: string } }
    ).cached;
    const signatures = stack.stac
      .presignedUrls()
      .map((url) => new URL(url).searchParams.get('X-Amz-Signature') ?? '');
    const forbidden = [
      secret.password,
      secret.clientSecret,
      tokens?.accessToken,
      tokens?.refreshToken,
      ...signatures,
    ].filter((value): value is string => value !== undefined && value !== '');

    // Act
    const text = logs.lines.join('\n');

    // Assert
    expect(logs.records().length).toBeGreaterThan(50);
    expect(signatures.length).toBeGreaterThan(5);
    expect(forbidden.length).toBeGreaterThan(signatures.length);
    for (const value of forbidden) expect(text).not.toContain(value);
    expect(text).not.toMatch(/eyJ[\w-]+\.[\w-]+\.[\w-]+/);
    expect(text).not.toMatch(/X-Amz-Signature=[0-9a-f]/i);
    expect(text).not.toMatch(/Bearer [\w-]/);
    expect(stack.stac.uploadsInProgress()).toEqual([]);
  });

  /** Registers a file as another client would, through the API with the function's client. */
  async function registerDirectly(
    asset: string,
    body: Buffer,
    options: { uppercase?: boolean } = {},
  ): Promise<void> {
    const runtime = stack.runtime();
    if (runtime === undefined) throw new Error('The function has not run yet');
    const target = { collection: COLLECTION, item: ITEM, asset };
    await runtime.stac.putAsset(target, { id: asset, type: 'text/csv' });
    const checksum = multihash(body);
    const upload = await runtime.stac.createUpload(target, {
      number_parts: 1,
      md5_parts: [{ part_number: 1, md5: md5Base64(body) }],
      'file:checksum': options.uppercase ? checksum.toUpperCase() : checksum,
    });
    const etag = await runtime.stac.uploadPart(
      upload.urls?.[0].url ?? '',
      { partNumber: 1, md5: md5Base64(body), size: body.length },
      async () => Readable.from([body]),
    );
    await runtime.stac.completeUpload(target, upload.upload_id, [{ etag, part_number: 1 }]);
  }

  async function readSecret(): Promise<{
    username: string;
    password: string;
    clientSecret?: string;
  }> {
    const output = await stack.clients.secrets.send(
      new GetSecretValueCommand({ SecretId: stack.info.secretId }),
    );
    return JSON.parse(output.SecretString ?? '{}');
  }

  /** Receives and deletes every message of the dead-letter queue. */
  async function receiveDeadLetters(): Promise<
    { key?: string; errorName?: string; errorMessage?: string }[]
  > {
    const letters: { key?: string; errorName?: string; errorMessage?: string }[] = [];
    for (;;) {
      const output = await stack.clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.info.deadLetterQueueUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          VisibilityTimeout: 60,
          WaitTimeSeconds: 0,
        }),
      );
      const messages = output.Messages ?? [];
      if (messages.length === 0) return letters;
      for (const message of messages) {
        const attributes = message.MessageAttributes ?? {};
        letters.push({
          key: attributes.ObjectKey?.StringValue,
          errorName: attributes.IngestErrorName?.StringValue,
          errorMessage: attributes.IngestErrorMessage?.StringValue,
        });
        await stack.clients.sqs.send(
          new DeleteMessageCommand({
            QueueUrl: stack.info.deadLetterQueueUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
      }
    }
  }

  function s3EventMessage(key: string) {
    return {
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          awsRegion: stack.info.region,
          eventTime: new Date().toISOString(),
          eventName: 'ObjectCreated:Put',
          s3: {
            s3SchemaVersion: '1.0',
            bucket: { name: stack.info.bucket, arn: `arn:aws:s3:::${stack.info.bucket}` },
            object: { key: encodeURIComponent(key).replace(/%20/g, '+'), size: 1 },
          },
        },
      ],
    };
  }

  function sqsRecord(messageId: string, body: unknown): SQSEvent['Records'][number] {
    return {
      messageId,
      receiptHandle: messageId,
      body: JSON.stringify(body),
      attributes: {} as SQSEvent['Records'][number]['attributes'],
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-central-1:123456789012:local',
      awsRegion: stack.info.region,
    };
  }
});
