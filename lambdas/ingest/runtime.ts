import type { Logger } from '@aws-lambda-powertools/logger';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { TokenProvider } from './cognito';
import { type IngestConfig, readConfig } from './config';
import { sendToDeadLetterQueue } from './dead-letter';
import { IngestError } from './errors';
import { ingestBatch, type MetricsSink } from './ingest';
import { SecretStore } from './secret';
import { StacClient } from './stac-client';

/** AWS SDK clients the ingest needs; create them once per container. */
export interface AwsClients {
  readonly s3: S3Client;
  readonly secretsManager: SecretsManagerClient;
  /** Sends permanently failed messages to the dead-letter queue, when one is configured. */
  readonly sqs: SQSClient;
  /** Returns the Cognito client of a region. */
  readonly cognito: (region: string) => CognitoIdentityProviderClient;
}

/**
 * Settings shared by every SDK client. Request checksums only when an
 * operation requires them, because the function only reads from S3, and
 * because S3 emulators reject the aws-chunked framing of flexible checksums.
 */
const CLIENT_DEFAULTS = {
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
  // A stalled connection fails instead of hanging until the Lambda timeout. The request
  // timeout is the socket's idle time, so long downloads that keep flowing are not cut.
  requestHandler: { connectionTimeout: 10_000, requestTimeout: 60_000 },
} as const;

/** Endpoint, region and credentials of the SDK clients; each unset one falls back to the SDK's default. */
export interface AwsClientOptions {
  /** Endpoint of every client, such as a local emulator. @default the SDK's (`AWS_ENDPOINT_URL`, then AWS) */
  readonly endpoint?: string;
  /** Region of the S3 and Secrets Manager clients. @default the SDK's (`AWS_REGION`) */
  readonly region?: string;
  /** Static credentials. @default the SDK's default credential chain */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style S3 addressing, which S3 emulators need. @default false */
  readonly forcePathStyle?: boolean;
}

/** Creates the SDK clients once; the Cognito client is created per region on first use. */
export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const common = {
    ...CLIENT_DEFAULTS,
    endpoint: options.endpoint,
    credentials: options.credentials,
  };
  const s3 = new S3Client({
    ...common,
    region: options.region,
    forcePathStyle: options.forcePathStyle ?? false,
  });
  const secretsManager = new SecretsManagerClient({ ...common, region: options.region });
  const sqs = new SQSClient({ ...common, region: options.region });
  return {
    s3,
    secretsManager,
    sqs,
    cognito: (region) => new CognitoIdentityProviderClient({ ...common, region }),
  };
}

/** Records of a plain S3 event failed; thrown so that Lambda's asynchronous retries apply. */
export class BatchFailedError extends IngestError {
  readonly retryable = true;
}

/** Long-lived parts of the ingest, built on first use and reused by warm invocations. */
export interface IngestRuntime {
  readonly config: IngestConfig;
  readonly secrets: SecretStore;
  readonly tokens: TokenProvider;
  readonly stac: StacClient;
}

/** Builds the runtime from the configuration and the clients. */
export function createRuntime(
  config: IngestConfig,
  clients: AwsClients,
  logger: Logger,
  now?: () => number,
): IngestRuntime {
  const secrets = new SecretStore({
    client: clients.secretsManager,
    secretId: config.secretId,
    maxAgeSecs: config.secretMaxAgeSecs,
    now,
  });
  const tokens = new TokenProvider({
    secrets,
    cognitoClient: clients.cognito,
    now,
    onRefreshFailed: (error) =>
      logger.warn('Token refresh failed, logging in with the password', { error }),
  });
  const stac = new StacClient({
    baseUrl: config.stacApiUrl,
    tokens,
    requestTimeoutMs: config.requestTimeoutMs,
    onRetry: ({ operation, attempt, error }) =>
      logger.warn('Retrying STAC API request', {
        operation,
        attempt,
        status: error.status,
        error: error.message,
      }),
  });
  return { config, secrets, tokens, stac };
}

/** Options of {@link createBatchHandler}. */
export interface BatchHandlerOptions {
  readonly logger: Logger;
  readonly clients: AwsClients;
  readonly metrics?: MetricsSink;
  /** Environment to read the configuration from. @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** Clock in milliseconds for the secret and token caches, replaceable in tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * Returns a handler of SQS batches (or plain S3 events) that keeps its
 * configuration, secret and token across invocations. The configuration is
 * read on the first call, so an invalid one fails every invocation loudly
 * and the records are retried.
 */
export function createBatchHandler(options: BatchHandlerOptions) {
  let runtime: IngestRuntime | undefined;

  const handleBatch = async (
    event: SQSEvent | S3Event,
    context?: Pick<Context, 'getRemainingTimeInMillis'>,
  ): Promise<SQSBatchResponse> => {
    runtime ??= createRuntime(
      readConfig(options.env),
      options.clients,
      options.logger,
      options.now,
    );
    const { config } = runtime;
    const remainingTimeMs =
      context === undefined ? undefined : () => context.getRemainingTimeInMillis();
    const result = await ingestBatch(event, {
      s3: options.clients.s3,
      // Requests stop at half the margin, so that aborting an upload has the other half.
      stac:
        remainingTimeMs === undefined
          ? runtime.stac
          : runtime.stac.withDeadline(remainingTimeMs, config.deadlineMarginMs / 2),
      logger: options.logger,
      metrics: options.metrics,
      settings: {
        keyLayouts: runtime.config.keyLayouts,
        partSizeBytes: runtime.config.partSizeBytes,
        partConcurrency: runtime.config.partConcurrency,
        deadlineMarginMs: config.deadlineMarginMs,
        staleUploadAgeSecs: config.staleUploadAgeSecs,
      },
      remainingTimeMs,
    });

    const first: unknown = event.Records[0];
    const fromSqs = typeof first === 'object' && first !== null && 'messageId' in first;
    if (!fromSqs && result.batchItemFailures.length > 0) {
      // S3 invokes the function asynchronously and retries, then dead-letters, only an
      // invocation that throws: a returned failure list would drop the records.
      const keys = result.results
        .filter((object) => object.status === 'failed')
        .map((object) => `s3://${object.bucket}/${object.key}`);
      throw new BatchFailedError(
        `${result.batchItemFailures.length} of ${event.Records.length} S3 event records failed (${keys.join(', ') || 'invalid records'}): the invocation fails so that Lambda retries the event.`,
      );
    }
    if (
      config.deadLetterQueueUrl === undefined ||
      result.permanentFailures.length === 0 ||
      !fromSqs
    ) {
      return { batchItemFailures: result.batchItemFailures };
    }
    const sent = await sendToDeadLetterQueue(
      options.clients.sqs,
      config.deadLetterQueueUrl,
      (event as SQSEvent).Records,
      result.permanentFailures,
      options.logger,
    );
    return {
      batchItemFailures: result.batchItemFailures.filter(
        (failure) => !sent.has(failure.itemIdentifier),
      ),
    };
  };

  return Object.assign(handleBatch, { runtime: () => runtime });
}
