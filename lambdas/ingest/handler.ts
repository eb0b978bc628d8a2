import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { createAwsClients, createBatchHandler } from './runtime';

// Module scope: created once per container and reused by warm invocations.
const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'stac-ingest' });
const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'StacIngest',
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'stac-ingest',
});
const handleBatch = createBatchHandler({ logger, metrics, clients: createAwsClients() });

/** Lambda entry point for SQS batches of S3 event notifications, or plain S3 events. */
export const handler = middy(handleBatch)
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use(logMetrics(metrics));
