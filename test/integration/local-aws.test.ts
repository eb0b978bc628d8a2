import { createHmac } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InitiateAuthCommand,
  NotAuthorizedException,
} from '@aws-sdk/client-cognito-identity-provider';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { S3Event, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import {
  createLocalAws,
  destroyClients,
  type LocalAws,
  type LocalAwsClients,
  type ServiceUserSecret,
} from '../../local/aws-setup';
import { MOTO_NOT_FOUND_MESSAGE, type MotoServer, startMoto } from '../../local/moto';
import {
  type BatchResult,
  type Poller,
  type SqsBatchHandler,
  startPoller,
} from '../../local/poller';

/**
 * Decodes an S3 event key, which S3 sends form-encoded: `+` for a space, `%XX` for other bytes.
 * moto 5.2.1 also encodes `/` as `%2F`, which this decodes as well.
 */
function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

function s3KeysOf(record: SQSRecord): string[] {
  const body = JSON.parse(record.body) as Partial<S3Event>;
  return (body.Records ?? []).map((s3Record) => decodeS3Key(s3Record.s3.object.key));
}

function jwtPart(token: string, index: number): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8'));
}

function secretHash(username: string, clientId: string, clientSecret: string): string {
  return createHmac('sha256', clientSecret).update(`${username}${clientId}`).digest('base64');
}

describe('startMoto', () => {
  test('missing executable gives install hint', async () => {
    const command = join(tmpdir(), 'stac-ingest-no-such-dir', 'moto_server');

    await expect(startMoto({ command })).rejects.toThrow(MOTO_NOT_FOUND_MESSAGE);
    expect(MOTO_NOT_FOUND_MESSAGE).toBe(
      'moto_server was not found: install it with pip install "moto[server]"',
    );
  });
});

describe('local AWS on moto_server', () => {
  let moto: MotoServer;
  let aws: LocalAws;
  let clients: LocalAwsClients;
  let poller: Poller | undefined;

  beforeAll(async () => {
    moto = await startMoto();
    aws = await createLocalAws(moto.endpoint);
    clients = aws.clients();
  });

  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
  });

  afterAll(async () => {
    if (clients !== undefined) {
      destroyClients(clients);
    }
    await moto?.stop();
  });

  async function putObject(key: string): Promise<void> {
    await clients.s3.send(new PutObjectCommand({ Bucket: aws.bucket, Key: key, Body: 'content' }));
  }

  async function pollUntilIdle(handler: SqsBatchHandler): Promise<BatchResult[]> {
    const results: BatchResult[] = [];
    poller = await startPoller({
      sqs: clients.sqs,
      queueUrl: aws.queueUrl,
      queueArn: aws.queueArn,
      handler,
      onBatch: (result) => results.push(result),
    });
    await poller.idle();
    return results;
  }

  async function queueAttribute(queueUrl: string, name: 'ApproximateNumberOfMessages') {
    const attributes = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [name] }),
    );
    return attributes.Attributes?.[name];
  }

  test('createLocalAws sets defaults and drains test event', async () => {
    const attributes = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: aws.queueUrl, AttributeNames: ['All'] }),
    );
    const redrivePolicy = JSON.parse(attributes.Attributes?.RedrivePolicy ?? '{}');

    expect(aws.bucket).toBe('stac-ingest-local');
    expect(aws.secretId).toBe('stac-ingest/local/service-user');
    expect(aws.region).toBe('eu-central-1');
    expect(attributes.Attributes?.VisibilityTimeout).toBe('30');
    expect(redrivePolicy.maxReceiveCount).toBe(3);
    expect(redrivePolicy.deadLetterTargetArn).toBe(aws.deadLetterQueueArn);
    expect(attributes.Attributes?.Policy).toContain('s3.amazonaws.com');
    expect(attributes.Attributes?.ApproximateNumberOfMessages).toBe('0');
  });

  test('createLocalAws rerun reuses resources', async () => {
    const again = await createLocalAws(moto.endpoint);

    expect(again.queueUrl).toBe(aws.queueUrl);
    expect(again.deadLetterQueueUrl).toBe(aws.deadLetterQueueUrl);
    expect(again.userPoolId).toBe(aws.userPoolId);
    expect(again.clientId).toBe(aws.clientId);
    expect(again.secretArn).toBe(aws.secretArn);
    expect(await queueAttribute(aws.queueUrl, 'ApproximateNumberOfMessages')).toBe('0');
  });

  test('poller delivers S3 notification', async () => {
    const key = 'incoming/Orthofoto Zürich/été 2024 (1)+x.tif';
    const events: SQSEvent[] = [];
    await putObject(key);

    const results = await pollUntilIdle(async (event, context) => {
      events.push(event);
      expect(context.functionName).toBe('stac-ingest-local');
      expect(context.getRemainingTimeInMillis()).toBeGreaterThan(50000);
      return { batchItemFailures: [] };
    });

    const records = events.flatMap((event) => event.Records);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record.eventSource).toBe('aws:sqs');
    expect(record.eventSourceARN).toBe(aws.queueArn);
    expect(record.awsRegion).toBe(aws.region);
    expect(record.attributes.ApproximateReceiveCount).toBe('1');
    expect(record.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    expect(record.receiptHandle).not.toBe('');

    const s3Event = JSON.parse(record.body) as S3Event;
    const rawKey = s3Event.Records[0].s3.object.key;
    expect(s3Event.Records[0].eventName).toBe('ObjectCreated:Put');
    expect(s3Event.Records[0].s3.bucket.name).toBe(aws.bucket);
    // The raw key is URL-encoded, with a space as + and a literal + as %2B.
    expect(rawKey).not.toContain(' ');
    expect(rawKey).not.toContain('ü');
    expect(rawKey).toContain('%2Bx');
    expect(decodeS3Key(rawKey)).toBe(key);

    expect(results[0].deletedMessageIds).toEqual([record.messageId]);
    expect(await queueAttribute(aws.queueUrl, 'ApproximateNumberOfMessages')).toBe('0');
  });

  test('partial failure retries only failed message', async () => {
    const goodKey = 'incoming/partial/good.tif';
    const badKey = 'incoming/partial/bad.tif';
    const deliveries: string[] = [];
    await putObject(goodKey);
    await putObject(badKey);

    await pollUntilIdle(async (event): Promise<SQSBatchResponse> => {
      const batchItemFailures = [];
      for (const record of event.Records) {
        const [key] = s3KeysOf(record);
        deliveries.push(`${key}#${record.attributes.ApproximateReceiveCount}`);
        if (key === badKey && record.attributes.ApproximateReceiveCount === '1') {
          batchItemFailures.push({ itemIdentifier: record.messageId });
        }
      }
      return { batchItemFailures };
    });

    expect(deliveries.sort()).toEqual([`${badKey}#1`, `${badKey}#2`, `${goodKey}#1`]);
  });

  test('reported failure ends in dead-letter queue', async () => {
    const key = 'incoming/dead letter/échec.tif';
    const receiveCounts: string[] = [];
    await putObject(key);

    await pollUntilIdle(async (event) => {
      for (const record of event.Records) {
        receiveCounts.push(record.attributes.ApproximateReceiveCount);
      }
      return {
        batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })),
      };
    });

    expect(receiveCounts).toEqual(['1', '2', '3']);
    const deadLetters = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const deadKeys = (deadLetters.Messages ?? []).flatMap((message) =>
      s3KeysOf({ body: message.Body ?? '' } as SQSRecord),
    );
    expect(deadKeys).toEqual([key]);
    expect(await queueAttribute(aws.queueUrl, 'ApproximateNumberOfMessages')).toBe('0');
  });

  test('thrown error deletes no message', async () => {
    const key = 'incoming/throws/once.tif';
    let invocations = 0;
    await putObject(key);

    const results = await pollUntilIdle(async () => {
      invocations += 1;
      if (invocations === 1) {
        throw new Error('simulated handler failure');
      }
      return { batchItemFailures: [] };
    });

    expect(invocations).toBe(2);
    expect(results[0].error).toBeInstanceOf(Error);
    expect(results[0].deletedMessageIds).toEqual([]);
    expect(results[0].retriedMessageIds).toHaveLength(1);
    expect(results[1].event.Records[0].attributes.ApproximateReceiveCount).toBe('2');
    expect(results[1].deletedMessageIds).toEqual(results[0].retriedMessageIds);
  });

  test('startPoller rejects invalid batchSize', async () => {
    const start = startPoller({
      sqs: clients.sqs,
      queueUrl: aws.queueUrl,
      queueArn: aws.queueArn,
      handler: async () => ({ batchItemFailures: [] }),
      batchSize: 11,
    });

    await expect(start).rejects.toThrow('Invalid batchSize 11: expected an integer from 1 to 10');
  });

  test('unknown itemIdentifier retries whole batch', async () => {
    const key = 'incoming/invalid-response/file.tif';
    let invocations = 0;
    await putObject(key);

    const results = await pollUntilIdle(async () => {
      invocations += 1;
      const itemIdentifier = invocations === 1 ? 'not-a-message-id' : undefined;
      return { batchItemFailures: itemIdentifier === undefined ? [] : [{ itemIdentifier }] };
    });

    expect(invocations).toBe(2);
    expect(results[0].deletedMessageIds).toEqual([]);
    expect(results[1].deletedMessageIds).toHaveLength(1);
  });

  test('service user logs in with secret', async () => {
    const stored = await clients.secrets.send(
      new GetSecretValueCommand({ SecretId: aws.secretId }),
    );
    const secret = JSON.parse(stored.SecretString ?? '{}') as ServiceUserSecret;

    expect(secret.userPoolId).toBe(aws.userPoolId);
    expect(secret.clientId).toBe(aws.clientId);
    expect(secret.region).toBe(aws.region);
    expect(secret.clientSecret).toBeUndefined();

    const login = await clients.cognito.send(
      new InitiateAuthCommand({
        ClientId: secret.clientId,
        AuthFlow: 'USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: secret.username, PASSWORD: secret.password },
      }),
    );
    expect(login.ChallengeName).toBeUndefined();
    expect(login.AuthenticationResult?.TokenType).toBe('Bearer');
    const accessToken = login.AuthenticationResult?.AccessToken ?? '';
    expect(jwtPart(accessToken, 1).iss).toBe(aws.tokenIssuer);
    expect(jwtPart(accessToken, 1).username).toBe(secret.username);

    const jwks = (await (await fetch(aws.jwksUrl)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((key) => key.kid)).toContain(jwtPart(accessToken, 0).kid);
  });

  test('wrong password is NotAuthorizedException', async () => {
    const login = clients.cognito.send(
      new InitiateAuthCommand({
        ClientId: aws.clientId,
        AuthFlow: 'USER_PASSWORD_AUTH',
        AuthParameters: { USERNAME: aws.username, PASSWORD: 'Wrong-Passw0rd!' },
      }),
    );

    await expect(login).rejects.toBeInstanceOf(NotAuthorizedException);
  });

  test('client secret login uses SECRET_HASH', async () => {
    const withSecret = await createLocalAws(moto.endpoint, {
      userPoolName: 'stac-ingest-local-with-secret',
      secretId: 'stac-ingest/local/service-user-with-secret',
      clientSecret: true,
    });
    const stored = await clients.secrets.send(
      new GetSecretValueCommand({ SecretId: withSecret.secretId }),
    );
    const secret = JSON.parse(stored.SecretString ?? '{}') as ServiceUserSecret;

    expect(withSecret.userPoolId).not.toBe(aws.userPoolId);
    expect(secret.clientSecret).toEqual(expect.any(String));

    const login = await clients.cognito.send(
      new InitiateAuthCommand({
        ClientId: secret.clientId,
        AuthFlow: 'USER_PASSWORD_AUTH',
        AuthParameters: {
          USERNAME: secret.username,
          PASSWORD: secret.password,
          SECRET_HASH: secretHash(secret.username, secret.clientId, secret.clientSecret ?? ''),
        },
      }),
    );
    expect(login.AuthenticationResult?.AccessToken).toEqual(expect.any(String));
    expect(login.AuthenticationResult?.RefreshToken).toEqual(expect.any(String));
  });
});
