import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createLambdaHandler } from '../lambdas/ingest/lambda';
import { redactLogValue } from '../lambdas/ingest/redact';
import { type AwsClients, createAwsClients, type IngestRuntime } from '../lambdas/ingest/runtime';
import { createLocalAws, destroyClients, type LocalAws, type LocalAwsClients } from './aws-setup';
import { type MotoServer, startMoto } from './moto';
import { type BatchResult, type Poller, startPoller } from './poller';
import { type StacEmulator, startStacEmulator } from './stac-emulator';

/** Default path of the file that receives the stack's endpoints. */
export const DEFAULT_STATE_FILE = resolve(__dirname, '..', '.local', 'stack.json');

/** Endpoints and names of a running local stack, as written to `.local/stack.json`. */
export interface LocalStackInfo {
  readonly region: string;
  readonly s3Endpoint: string;
  readonly bucket: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly stacApiUrl: string;
  readonly secretId: string;
  readonly userPoolId: string;
  readonly clientId: string;
  /** Credentials the local S3 accepts (any value works with moto). */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
}

/** Options of {@link startLocalStack}. */
export interface LocalStackOptions {
  /** Path of the JSON file that receives the endpoints; `false` writes none. @default `.local/stack.json` */
  readonly stateFile?: string | false;
  /** Preferred part size in MiB, as `PART_SIZE_MIB` sets it for the function. @default 64 */
  readonly partSizeMib?: number;
  /** Minimum size of every part but the last that the emulated API accepts. @default 5 MiB */
  readonly minPartSizeBytes?: number;
  /** Receives before a message moves to the dead-letter queue. @default 3 */
  readonly maxReceiveCount?: number;
  /** Whether the Cognito app client has a client secret, so logins send SECRET_HASH. @default true */
  readonly clientSecret?: boolean;
  /** Log level of the ingest function's logger. @default `INFO` */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** Whether the function writes its metrics in embedded metric format to stdout. @default true */
  readonly metrics?: boolean;
  /** Run the poller that delivers queue messages to the function. @default true */
  readonly poll?: boolean;
  /** Time each invocation may run, as the Lambda timeout, in milliseconds. @default 60000 */
  readonly timeoutMs?: number;
  /**
   * Set the function's `DEAD_LETTER_QUEUE_URL` to the stack's dead-letter queue, so that it
   * sends permanently failed messages there at once, as the CDK stack does. @default true
   */
  readonly deadLetterFastPath?: boolean;
  /** Extra environment of the ingest function, over the stack's own settings. */
  readonly env?: Record<string, string>;
  /** Clock of the function's secret and token caches. @default Date.now */
  readonly now?: () => number;
  /** Receives a line for each step of the stack, the emulators and the poller. @default dropped */
  readonly log?: (line: string) => void;
  /** Called after each batch the poller delivered. */
  readonly onBatch?: (result: BatchResult) => void;
}

/** A running local stack: moto_server, the STAC API emulator and the poller. */
export interface LocalStack {
  readonly info: LocalStackInfo;
  readonly aws: LocalAws;
  readonly moto: MotoServer;
  readonly stac: StacEmulator;
  /** SDK clients for the emulated AWS services, for tests and scripts. */
  readonly clients: LocalAwsClients;
  /** The ingest function, as the poller invokes it. */
  readonly handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  /** The ingest function's own SDK clients, for tests that count its requests. */
  readonly functionClients: AwsClients;
  /** The function's cached secret, token and API client, once the first batch has run. */
  runtime(): IngestRuntime | undefined;
  readonly poller?: Poller;
  /** Stops the poller, the STAC API emulator and moto_server. */
  stop(): Promise<void>;
}

/**
 * Starts the whole pipeline on this machine. moto_server plays S3, SQS,
 * Secrets Manager and Cognito, and the STAC API emulator checks tokens against
 * the user pool. A poller delivers the queue's messages to the ingest function
 * in batches, as the Lambda event source mapping does.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const log = options.log ?? (() => undefined);
  const moto = await startMoto();
  log(`moto_server is listening on ${moto.endpoint}`);

  let stac: StacEmulator | undefined;
  let clients: LocalAwsClients | undefined;
  try {
    const aws = await createLocalAws(moto.endpoint, {
      clientSecret: options.clientSecret ?? true,
      maxReceiveCount: options.maxReceiveCount ?? 3,
      log,
    });
    stac = await startStacEmulator({
      auth: { jwksUrl: aws.jwksUrl, issuer: aws.tokenIssuer, clientId: aws.clientId },
      minPartSizeBytes: options.minPartSizeBytes,
      log: (line) => log(`stac-api: ${line}`),
    });
    log(`STAC API emulator is listening on ${stac.url}`);
    clients = aws.clients();

    const info: LocalStackInfo = {
      region: aws.region,
      s3Endpoint: aws.s3Endpoint,
      bucket: aws.bucket,
      queueUrl: aws.queueUrl,
      deadLetterQueueUrl: aws.deadLetterQueueUrl,
      stacApiUrl: stac.url,
      secretId: aws.secretId,
      userPoolId: aws.userPoolId,
      clientId: aws.clientId,
      credentials: aws.credentials,
    };
    const stateFile =
      options.stateFile === false ? undefined : (options.stateFile ?? DEFAULT_STATE_FILE);
    if (stateFile !== undefined) {
      await mkdir(dirname(stateFile), { recursive: true });
      await writeFile(stateFile, `${JSON.stringify(info, null, 2)}\n`);
    }

    const handler = createLocalHandler(aws, stac, options);
    const poller =
      options.poll === false
        ? undefined
        : await startPoller({
            sqs: clients.sqs,
            queueUrl: aws.queueUrl,
            queueArn: aws.queueArn,
            handler,
            timeoutMs: options.timeoutMs,
            onBatch: options.onBatch,
            log,
          });

    const ownClients = clients;
    const ownStac = stac;
    return {
      info,
      aws,
      moto,
      stac: ownStac,
      clients: ownClients,
      handler,
      functionClients: handler.clients,
      runtime: handler.runtime,
      poller,
      stop: async () => {
        // The endpoints die with the stack, so the file that names them goes too.
        if (stateFile !== undefined) await rm(stateFile, { force: true });
        await poller?.stop();
        destroyClients(ownClients);
        await ownStac.close();
        await moto.stop();
      },
    };
  } catch (error) {
    if (clients !== undefined) destroyClients(clients);
    await stac?.close();
    await moto.stop();
    throw error;
  }
}

/**
 * Builds the ingest function as Lambda runs it (the same middleware, logger
 * and metrics), with its SDK clients aimed at moto_server.
 */
function createLocalHandler(aws: LocalAws, stac: StacEmulator, options: LocalStackOptions) {
  const env: Record<string, string> = {
    STAC_API_URL: stac.url,
    SECRET_ID: aws.secretId,
    PART_SIZE_MIB: String(options.partSizeMib ?? 64),
    ...(options.deadLetterFastPath !== false
      ? { DEAD_LETTER_QUEUE_URL: aws.deadLetterQueueUrl }
      : {}),
    ...options.env,
  };
  const logger = new Logger({
    serviceName: 'stac-ingest',
    logLevel: options.logLevel ?? 'INFO',
    jsonReplacerFn: redactLogValue,
  });
  // Powertools reads this switch from the environment only.
  if (options.metrics === false) process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const metrics = new Metrics({ namespace: 'StacIngest', serviceName: 'stac-ingest', logger });
  const clients = createAwsClients({
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: aws.credentials,
    forcePathStyle: true,
  });
  const handler = createLambdaHandler({ logger, metrics, clients, env, now: options.now });
  const invoke = (event: SQSEvent, context: Context) =>
    handler(event, context) as Promise<SQSBatchResponse>;
  return Object.assign(invoke, { runtime: handler.runtime, clients });
}

/** Counts the queue's messages, visible and in flight, as SQS approximates them. */
export async function countMessages(sqs: SQSClient, queueUrl: string): Promise<number> {
  const output = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  const attributes = output.Attributes ?? {};
  return (
    Number(attributes.ApproximateNumberOfMessages ?? 0) +
    Number(attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}
