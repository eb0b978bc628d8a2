import type { Logger } from '@aws-lambda-powertools/logger';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { PermanentFailure } from './dead-letter';
import { CONTENT_ENCODINGS, type ContentEncoding } from './digests';
import { IngestError, InvalidInputError } from './errors';
import { parseBatch } from './events';
import { type KeyLayout, resolveTarget } from './key-layout';
import { checkExtensionMatchesMediaType, mediaTypeFromFileName } from './media-types';
import { parseUserMetadata } from './metadata';
import { type ChecksumSource, prepareObject } from './object-digests';
import { planParts } from './part-plan';
import { registerAsset } from './register';
import { headObject, ObjectChangedError, type ObjectHead, ObjectReadError } from './s3-object';
import { redactUrl, type StacClient } from './stac-client';
import type { AssetMetadata, AssetTarget, ObjectRef } from './types';

/** Time left in the invocation below which no new object is started. */
const DEFAULT_DEADLINE_MARGIN_MS = 10_000;

/** Units used by the ingest metrics, a subset of CloudWatch's. */
export type MetricUnitName = 'Count' | 'Bytes' | 'Milliseconds';

/** Metrics sink of the ingest; Powertools' Metrics fits this shape. */
export interface MetricsSink {
  addMetric(name: string, unit: MetricUnitName, value: number): unknown;
}

/** Settings of the ingest core, independent of where it runs. */
export interface IngestSettings {
  readonly keyLayouts: KeyLayout[];
  readonly partSizeBytes: number;
  /** Parts sent at the same time. @default 4 */
  readonly partConcurrency?: number;
  /** Time left in the invocation below which no new object starts. @default 10000 */
  readonly deadlineMarginMs?: number;
  /** Age in seconds from which another upload in progress on the asset is aborted. @default 960 */
  readonly staleUploadAgeSecs?: number;
}

/** Clients and settings the ingest core runs with. */
export interface IngestContext {
  readonly s3: S3Client;
  readonly stac: StacClient;
  readonly logger: Logger;
  readonly settings: IngestSettings;
  readonly metrics?: MetricsSink;
  /** Milliseconds left in the invocation. @default unlimited */
  readonly remainingTimeMs?: () => number;
}

/** Outcome of one object. */
export interface ObjectResult {
  readonly bucket: string;
  readonly key: string;
  /** `ingested`: uploaded; `unchanged`: the asset already had this checksum; `skipped`: nothing to do. */
  readonly status: 'ingested' | 'unchanged' | 'skipped' | 'failed';
  readonly collection?: string;
  readonly item?: string;
  readonly asset?: string;
  readonly type?: string;
  readonly checksum?: string;
  /** `stored`: S3's SHA-256 checksum and MD5 ETag were used; `computed`: the object was hashed. */
  readonly checksumSource?: ChecksumSource;
  readonly href?: string;
  readonly size?: number;
  readonly uploadId?: string;
  /** True when the asset's metadata was written (created, changed or updated with a new file). */
  readonly metadataUpdated?: boolean;
  readonly durationMs: number;
  readonly reason?: string;
  readonly error?: IngestError | Error;
}

/** Outcome of a batch: the records to retry and what happened to each object. */
export interface BatchResult extends SQSBatchResponse {
  readonly results: ObjectResult[];
  /**
   * Failed messages whose every failure is permanent (invalid input), so that retrying them
   * cannot succeed. They are also listed in `batchItemFailures`.
   */
  readonly permanentFailures: PermanentFailure[];
}

/** Log keys that identify an object and its target. */
function objectKeys(
  ref: ObjectRef,
  target?: Partial<AssetTarget>,
): Record<string, string | undefined> {
  return {
    bucket: ref.bucket,
    key: ref.key,
    collection: target?.collection,
    item: target?.item,
    asset: target?.asset,
  };
}

/** Builds the asset metadata from the target, the file name and the object's user metadata. */
function describeAsset(
  ref: ObjectRef,
  userMetadata: Record<string, string>,
  layouts: KeyLayout[],
): { target: AssetTarget; metadata: AssetMetadata } {
  const parsed = parseUserMetadata(userMetadata, ref.key);
  const target = resolveTarget(ref.key, layouts, parsed.assetId);
  const type = parsed.mediaType ?? mediaTypeFromFileName(target.asset);
  checkExtensionMatchesMediaType(target.asset, type);
  return { target, metadata: { ...parsed.fields, id: target.asset, type } };
}

/** Facts about an object gathered so far, so that a failure can be logged with its target. */
export interface IngestProgress {
  target?: AssetTarget;
  uploadId?: string;
  size?: number;
}

/**
 * Registers one S3 object as a STAC asset. Returns `skipped` when the object
 * no longer exists; throws an {@link IngestError} when it fails.
 */
export async function ingestObject(
  ref: ObjectRef,
  context: IngestContext,
  progress: IngestProgress = {},
): Promise<ObjectResult> {
  const startedAt = Date.now();
  const { s3, stac, settings } = context;
  const logger = context.logger.createChild({ persistentKeys: objectKeys(ref) });

  const signal = s3DeadlineSignal(context);
  const head = await headObject(s3, ref, signal);
  if (head === undefined) {
    logger.warn('Object no longer exists, skipped');
    return {
      bucket: ref.bucket,
      key: ref.key,
      status: 'skipped',
      reason: 'object-deleted',
      durationMs: Date.now() - startedAt,
    };
  }

  progress.size = head.size;
  const { target, metadata } = describeAsset(ref, head.metadata, settings.keyLayouts);
  progress.target = target;
  logger.appendPersistentKeys(objectKeys(ref, target));
  if (head.size === 0) {
    throw new InvalidInputError(
      `s3://${ref.bucket}/${ref.key} is empty (0 bytes): an empty file is not registered, so upload the file again with its content.`,
    );
  }

  const contentEncoding = checkContentEncoding(ref, head);
  const parts = planParts(head.size, { partSizeBytes: settings.partSizeBytes });
  const { digests, checksumSource, openPart } = await prepareObject(
    s3,
    ref,
    head,
    parts,
    undefined,
    signal,
  ).catch((error: unknown) => {
    // A stream cut by the deadline fails with a bare "aborted", so name the cause.
    if (!signal?.aborted || error instanceof IngestError) throw error;
    throw new ObjectReadError(
      `Reading s3://${ref.bucket}/${ref.key} was stopped before the invocation deadline: the record is retried.`,
      { cause: error },
    );
  });
  logger.debug('Obtained digests', {
    checksum: digests.checksum,
    checksum_source: checksumSource,
    parts: parts.length,
  });

  const result = await registerAsset({
    stac,
    target,
    metadata,
    digests,
    parts,
    openPart,
    partConcurrency: settings.partConcurrency,
    onUploadCreated: (uploadId) => {
      progress.uploadId = uploadId;
      logger.appendPersistentKeys({ upload_id: uploadId });
      logger.info('Upload created', { parts: parts.length, size: head.size });
    },
    onAbortFailed: (uploadId, error) =>
      logger.error('Aborting the upload failed: abort it by hand', { upload_id: uploadId, error }),
    onUploadAborted: (uploadId, cause) =>
      logger.warn('Upload aborted after a failure', {
        upload_id: uploadId,
        cause: cause instanceof Error ? cause.message : String(cause),
      }),
    onStaleUploadAborted: (upload, ageSecs) =>
      logger.warn('Aborted a stale upload in progress of another invocation', {
        stale_upload_id: upload.upload_id,
        stale_upload_created: upload.created,
        stale_upload_age_secs: Math.round(ageSecs),
      }),
    onCreatedAssetRemoved: () =>
      logger.warn(
        'Deleted the asset created for the failed upload, so no asset without a file remains',
      ),
    onCreatedAssetRemovalFailed: (error) =>
      logger.error('Deleting the asset created for the failed upload failed: delete it by hand', {
        error,
      }),
    onUrlsExpired: (uploadId) =>
      logger.warn('Presigned part URLs expired: the upload was aborted and starts again', {
        upload_id: uploadId,
      }),
    staleUploadAgeSecs: settings.staleUploadAgeSecs,
    contentEncoding,
    beforeComplete: () => checkObjectUnchanged(s3, ref, head, signal),
  });

  return {
    bucket: ref.bucket,
    key: ref.key,
    status: result.outcome === 'uploaded' ? 'ingested' : 'unchanged',
    collection: target.collection,
    item: target.item,
    asset: target.asset,
    type: metadata.type,
    checksum: digests.checksum,
    checksumSource,
    href: result.href === undefined ? undefined : redactUrl(result.href),
    size: head.size,
    uploadId: result.uploadId,
    metadataUpdated: result.metadataUpdated,
    durationMs: Date.now() - startedAt,
  };
}

/**
 * Returns the object's Content-Encoding when the API can take it (gzip or br). The API then
 * serves the file with that header, and file:checksum covers the decoded data.
 */
function checkContentEncoding(ref: ObjectRef, head: ObjectHead): ContentEncoding | undefined {
  const encoding = head.contentEncoding;
  if (encoding === undefined) return undefined;
  if ((CONTENT_ENCODINGS as readonly string[]).includes(encoding)) {
    return encoding as ContentEncoding;
  }
  throw new InvalidInputError(
    `s3://${ref.bucket}/${ref.key} has Content-Encoding "${encoding}", which the STAC API does not support: upload it again with Content-Encoding ${CONTENT_ENCODINGS.join(' or ')}, or none.`,
  );
}

/**
 * Returns a signal that stops S3 reads half the deadline margin before the invocation ends,
 * as requests to the API stop, so that aborting our upload has the other half. Without a
 * deadline, S3 reads are bounded only by the SDK's socket timeouts.
 */
function s3DeadlineSignal(context: IngestContext): AbortSignal | undefined {
  const remainingMs = context.remainingTimeMs?.();
  if (remainingMs === undefined || !Number.isFinite(remainingMs)) return undefined;
  const marginMs = context.settings.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  return AbortSignal.timeout(Math.max(0, remainingMs - marginMs / 2));
}

/**
 * Reads the object's metadata again and raises ObjectChangedError when its ETag or version
 * differs from the first read, so that the newer event of an overwritten object wins.
 * NOTE: an overwrite between this check and the upload's completion is not detected.
 */
async function checkObjectUnchanged(
  s3: S3Client,
  ref: ObjectRef,
  head: ObjectHead,
  signal: AbortSignal | undefined,
): Promise<void> {
  const current = await headObject(s3, ref, signal);
  if (current?.eTag !== head.eTag || current?.versionId !== head.versionId) {
    throw new ObjectChangedError(
      `s3://${ref.bucket}/${ref.key} changed or was deleted while it was read: the record is retried so that the newest version is registered.`,
    );
  }
}

function recordMetrics(metrics: MetricsSink | undefined, result: ObjectResult): void {
  if (metrics === undefined) return;
  if (result.status === 'ingested') {
    metrics.addMetric('FilesIngested', 'Count', 1);
    metrics.addMetric('BytesIngested', 'Bytes', result.size ?? 0);
    metrics.addMetric('IngestDuration', 'Milliseconds', result.durationMs);
  } else if (result.status === 'failed') {
    metrics.addMetric('FilesFailed', 'Count', 1);
  } else {
    metrics.addMetric('FilesSkipped', 'Count', 1);
  }
}

/** Writes the one line that sums up an object, with stable snake_case keys. */
function logResult(logger: Logger, ref: ObjectRef, result: ObjectResult): void {
  const fields = {
    ...objectKeys(ref, result),
    status: result.status,
    type: result.type,
    checksum: result.checksum,
    checksum_source: result.checksumSource,
    href: result.href,
    size: result.size,
    upload_id: result.uploadId,
    metadata_updated: result.metadataUpdated,
    duration_ms: result.durationMs,
    reason: result.reason,
  };
  if (result.status !== 'failed') {
    logger.info(`Object ${result.status}`, fields);
    return;
  }

  const { error } = result;
  const retryable = error instanceof IngestError ? error.retryable : true;
  // Invalid input is expected, and `reason` already contains its message with the value and the
  // fix, so a stack trace would only repeat it.
  const errorField = error instanceof InvalidInputError ? { name: error.name } : error;
  logger.error(retryable ? 'Ingest failed, the record will be retried' : 'Ingest failed', {
    ...fields,
    retryable,
    error: errorField,
  });
}

/** Identity of an object version within a batch, for duplicate detection. */
function objectIdentity(ref: ObjectRef): string {
  return JSON.stringify([ref.bucket, ref.key, ref.versionId ?? '', ref.eTag ?? '']);
}

/**
 * Ingests every object of an SQS batch (or of a plain S3 event) and returns
 * the ids of the messages to retry: those with an object that failed. Test
 * events and folder markers are skipped; the same object twice in one batch
 * is ingested once.
 */
export async function ingestBatch(
  event: SQSEvent | S3Event,
  context: IngestContext,
): Promise<BatchResult> {
  const { logger } = context;
  const remainingTimeMs = context.remainingTimeMs ?? (() => Number.POSITIVE_INFINITY);
  const failures: { itemIdentifier: string }[] = [];
  const permanentFailures: PermanentFailure[] = [];
  const results: ObjectResult[] = [];
  const marginMs = context.settings.deadlineMarginMs ?? DEFAULT_DEADLINE_MARGIN_MS;
  const seen = new Map<string, Promise<ObjectResult>>();

  for (const entry of parseBatch(event)) {
    if (entry.error !== undefined) {
      logger.error('Invalid event record', { message_id: entry.messageId, error: entry.error });
      failures.push({ itemIdentifier: entry.messageId });
      permanentFailures.push({ messageId: entry.messageId, error: entry.error });
      continue;
    }
    for (const skipped of entry.skipped) {
      logger.info('Event record skipped', { message_id: entry.messageId, ...skipped });
      context.metrics?.addMetric('FilesSkipped', 'Count', 1);
    }

    let failed = false;
    let retryable = false;
    let permanentError: { key: string; error: Error } | undefined;
    for (const ref of entry.objects) {
      if (remainingTimeMs() < marginMs) {
        logger.warn('Too little time left in the invocation, the record will be retried', {
          ...objectKeys(ref),
          remaining_ms: remainingTimeMs(),
        });
        failed = true;
        retryable = true;
        continue;
      }

      const identity = objectIdentity(ref);
      let pending = seen.get(identity);
      const duplicate = pending !== undefined;
      if (pending === undefined) {
        pending = runOne(ref, context);
        seen.set(identity, pending);
      }
      const result = await pending;
      if (!duplicate) {
        results.push(result);
        logResult(logger, ref, result);
        recordMetrics(context.metrics, result);
      } else {
        logger.info('Same object twice in the batch, handled once', objectKeys(ref));
      }
      if (result.status === 'failed') {
        failed = true;
        const error = result.error ?? new Error(result.reason ?? 'unknown error');
        if (error instanceof IngestError && !error.retryable) {
          permanentError ??= { key: ref.key, error };
        } else {
          retryable = true;
        }
      }
    }
    if (failed) failures.push({ itemIdentifier: entry.messageId });
    if (failed && !retryable && permanentError !== undefined) {
      permanentFailures.push({ messageId: entry.messageId, ...permanentError });
    }
  }

  return { batchItemFailures: failures, results, permanentFailures };
}

async function runOne(ref: ObjectRef, context: IngestContext): Promise<ObjectResult> {
  const startedAt = Date.now();
  const progress: IngestProgress = {};
  try {
    return await ingestObject(ref, context, progress);
  } catch (error) {
    return {
      bucket: ref.bucket,
      key: ref.key,
      status: 'failed',
      collection: progress.target?.collection,
      item: progress.target?.item,
      asset: progress.target?.asset,
      size: progress.size,
      uploadId: progress.uploadId,
      reason: error instanceof Error ? error.message : String(error),
      durationMs: Date.now() - startedAt,
      error: error instanceof Error ? error : new Error(String(error)),
    };
  }
}
