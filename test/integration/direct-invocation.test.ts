import { randomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent } from 'aws-lambda';
import { createLambdaHandler } from '../../lambdas/ingest/lambda';
import { BatchFailedError, createAwsClients } from '../../lambdas/ingest/runtime';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { s3Event, s3Record, sqsEvent, sqsMessage } from '../helpers/events';
import { captureLogs, type LogCapture } from '../helpers/log-capture';

const MIB = 1024 * 1024;
const KEY = 'ch.swisstopo.ingest-demo/demo-item/stall.tif';

/**
 * Starts a proxy in front of moto_server that never responds to the ranged part reads of the key, as a
 * stalled S3 connection would, and passes every other request through.
 */
async function startStallingProxy(target: string, stalled: string[]): Promise<Server> {
  const upstream = new URL(target);
  const server = createServer((incoming, outgoing) => {
    const range = incoming.headers.range;
    // The hashing pass reads the whole 12 MiB in one range; the part reads are smaller.
    if (incoming.method === 'GET' && range !== undefined && range !== `bytes=0-${12 * MIB - 1}`) {
      stalled.push(range);
      return;
    }
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
      },
      (response) => {
        outgoing.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(outgoing);
      },
    );
    forward.on('error', () => outgoing.destroy());
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('ingest without SQS in between', () => {
  let stack: LocalStack;
  let proxy: Server;
  let logs: LogCapture;
  const stalled: string[] = [];

  beforeAll(async () => {
    logs = captureLogs();
    stack = await startLocalStack({ stateFile: false, poll: false, metrics: false });
    proxy = await startStallingProxy(stack.aws.endpoint, stalled);
  });

  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await stack?.stop();
    logs?.stop();
  });

  it('aborts its upload before the deadline', async () => {
    // Arrange
    const { port } = proxy.address() as AddressInfo;
    const clients = createAwsClients({
      endpoint: `http://127.0.0.1:${port}`,
      region: stack.aws.region,
      credentials: stack.aws.credentials,
      forcePathStyle: true,
    });
    const handler = createLambdaHandler({
      logger: new Logger({ serviceName: 'stac-ingest' }),
      metrics: new Metrics({ namespace: 'StacIngest', serviceName: 'stac-ingest' }),
      clients,
      env: {
        STAC_API_URL: stack.stac.url,
        SECRET_ID: stack.aws.secretId,
        PART_SIZE_MIB: '5',
        DEADLINE_MARGIN_SECS: '4',
      },
    });
    const body = randomBytes(12 * MIB);
    await stack.clients.s3.send(
      new PutObjectCommand({ Bucket: stack.info.bucket, Key: KEY, Body: body }),
    );
    const deadline = Date.now() + 10_000;
    const context = {
      awsRequestId: 'stalled-read',
      functionName: 'stac-ingest-local',
      getRemainingTimeInMillis: () => deadline - Date.now(),
    } as unknown as Context;
    const event = sqsEvent(sqsMessage([s3Record({ bucket: stack.info.bucket, key: KEY })]));

    // Act
    const response = await handler(event, context);

    // Assert
    expect(Date.now()).toBeLessThan(deadline);
    expect(stalled.length).toBeGreaterThan(0);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: event.Records[0].messageId }]);
    expect(stack.stac.uploadsInProgress()).toEqual([]);
    const aborted = stack.stac.requestLog.filter((entry) => entry.path.endsWith('/abort'));
    expect(aborted).toHaveLength(1);
    const messages = logs.records().map((record) => String(record.reason ?? ''));
    expect(messages.some((reason) => reason.includes('before the invocation deadline'))).toBe(true);
  });

  it('throws for a failed plain S3 event', async () => {
    // Arrange: S3 invokes the function directly, and the API fails upload creation.
    const key = 'ch.swisstopo.ingest-demo/demo-item/direct.csv';
    const body = Buffer.from(`x,y\n${Date.now()},1\n`);
    await stack.clients.s3.send(
      new PutObjectCommand({ Bucket: stack.info.bucket, Key: key, Body: body }),
    );
    const event = s3Event(s3Record({ bucket: stack.info.bucket, key }));
    const context = {
      awsRequestId: 'direct-s3-event',
      functionName: 'stac-ingest-local',
      getRemainingTimeInMillis: () => 60_000,
    } as unknown as Context;
    stack.stac.faults.add({
      method: 'POST',
      path: '/direct.csv/uploads',
      times: 1,
      action: { kind: 'status', status: 500 },
    });

    // Act
    const failed = stack.handler(event as unknown as SQSEvent, context);

    // Assert: the failure is thrown, so Lambda retries the event; the retry succeeds.
    await expect(failed).rejects.toThrow(BatchFailedError);
    await expect(failed).rejects.toThrow(`s3://${stack.info.bucket}/${key}`);
    await expect(stack.handler(event as unknown as SQSEvent, context)).resolves.toEqual({
      batchItemFailures: [],
    });
    expect(
      stack.stac.getAsset('ch.swisstopo.ingest-demo', 'demo-item', 'direct.csv'),
    ).toBeDefined();
  });

  it('throws for an invalid plain event record', async () => {
    // Arrange
    const event = { Records: [null] } as unknown as SQSEvent;
    const context = {
      awsRequestId: 'invalid-record',
      functionName: 'stac-ingest-local',
      getRemainingTimeInMillis: () => 60_000,
    } as unknown as Context;

    // Act
    const invocation = stack.handler(event, context);

    // Assert
    await expect(invocation).rejects.toThrow(BatchFailedError);
    await expect(invocation).rejects.toThrow('1 of 1 S3 event records failed (invalid records)');
  });
});
