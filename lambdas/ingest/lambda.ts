import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import { type AwsClients, createBatchHandler } from './runtime';

/** Options of {@link createLambdaHandler}. */
export interface LambdaHandlerOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clients: AwsClients;
  /** Environment to read the configuration from. @default process.env */
  readonly env?: Record<string, string | undefined>;
  /** Clock in milliseconds for the secret and token caches. @default Date.now */
  readonly now?: () => number;
}

/**
 * Wraps the batch handler in the Lambda middleware: the logger gets the
 * invocation's context (request id, cold start) and the metrics are flushed
 * in embedded metric format after each invocation.
 */
export function createLambdaHandler(options: LambdaHandlerOptions) {
  const handleBatch = createBatchHandler(options);
  const handler = middy(handleBatch)
    .use(injectLambdaContext(options.logger, { resetKeys: true }))
    .use(logMetrics(options.metrics));
  return Object.assign(handler, { runtime: handleBatch.runtime });
}
