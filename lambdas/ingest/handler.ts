import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createLambdaHandler } from './lambda';
import { redactLogValue } from './redact';
import { createAwsClients } from './runtime';

const SERVICE_NAME = process.env.POWERTOOLS_SERVICE_NAME ?? 'stac-ingest';

// Module scope: created once per container and reused by warm invocations.
// The replacer keeps credentials and presigned URL signatures out of every log line.
const logger = new Logger({ serviceName: SERVICE_NAME, jsonReplacerFn: redactLogValue });
const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'StacIngest',
  serviceName: SERVICE_NAME,
  // Its warnings (such as an invocation without metrics) become JSON log lines too.
  logger,
});
const clients = createAwsClients({ forcePathStyle: process.env.S3_FORCE_PATH_STYLE === 'true' });

/** Lambda entry point for SQS batches of S3 event notifications, or plain S3 events. */
export const handler = createLambdaHandler({ logger, metrics, clients });
