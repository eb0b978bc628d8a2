import type { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { IngestError } from './errors';
import type { ObjectRef } from './types';

/** Reading an object from S3 failed. */
export class ObjectReadError extends IngestError {
  readonly retryable = true;
}

/**
 * The object was overwritten while it was processed. The record fails, so it
 * is retried and the newest version is registered.
 */
export class ObjectChangedError extends IngestError {
  readonly retryable = true;
}

/** Metadata of the object being ingested, as HeadObject returns it. */
export interface ObjectHead {
  readonly size: number;
  readonly eTag: string;
  readonly versionId?: string;
  /** User metadata, keys lowercased without the `x-amz-meta-` prefix. */
  readonly metadata: Record<string, string>;
  /** Base64 SHA-256 checksum that S3 stores, present when the uploader sent one. */
  readonly checksumSha256?: string;
  /** `FULL_OBJECT` or `COMPOSITE` (a checksum of part checksums); S3 emulators may omit it. */
  readonly checksumType?: string;
  /** Server-side encryption: `AES256`, `aws:kms` or `aws:kms:dsse`. */
  readonly serverSideEncryption?: string;
  /** Algorithm of server-side encryption with a customer-provided key (SSE-C), when used. */
  readonly sseCustomerAlgorithm?: string;
  /** The object's `Content-Encoding`, lowercased; absent for `identity` or none. */
  readonly contentEncoding?: string;
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'NotFound' || error.name === 'NoSuchKey' || error.name === 'NoSuchVersion')
  );
}

function isPreconditionFailed(error: unknown): boolean {
  return error instanceof Error && error.name === 'PreconditionFailed';
}

function normalizeContentEncoding(value: string | undefined): string | undefined {
  const encoding = value?.trim().toLowerCase();
  return encoding === undefined || encoding === '' || encoding === 'identity'
    ? undefined
    : encoding;
}

function describe(ref: ObjectRef): string {
  return `s3://${ref.bucket}/${ref.key}`;
}

/**
 * Reads the object's size, ETag, user metadata, stored checksum and encryption; returns
 * undefined when it no longer exists.
 */
export async function headObject(
  s3: S3Client,
  ref: ObjectRef,
  signal?: AbortSignal,
): Promise<ObjectHead | undefined> {
  try {
    const output = await s3.send(
      new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key, ChecksumMode: 'ENABLED' }),
      { abortSignal: signal },
    );
    return {
      size: output.ContentLength ?? 0,
      eTag: output.ETag ?? '',
      versionId: output.VersionId,
      metadata: output.Metadata ?? {},
      checksumSha256: output.ChecksumSHA256,
      checksumType: output.ChecksumType,
      serverSideEncryption: output.ServerSideEncryption,
      sseCustomerAlgorithm: output.SSECustomerAlgorithm,
      contentEncoding: normalizeContentEncoding(output.ContentEncoding),
    };
  } catch (error) {
    if (isNotFound(error)) return undefined;
    if (signal?.aborted) {
      throw new ObjectReadError(
        `Reading the metadata of ${describe(ref)} was stopped before the invocation deadline: the record is retried.`,
        { cause: error },
      );
    }
    const name = error instanceof Error ? error.name : 'Error';
    throw new ObjectReadError(
      `Reading the metadata of ${describe(ref)} failed (${name}): check that the function may read the bucket.`,
      { cause: error },
    );
  }
}

/**
 * Opens a stream of bytes `start` (inclusive) to `end` (exclusive) of the
 * object, or of the whole object when no range is given. The read is
 * conditional on the ETag, so a changed object raises ObjectChangedError.
 * The signal, when given, aborts the request and its body stream.
 */
export async function openObject(
  s3: S3Client,
  ref: ObjectRef,
  head: ObjectHead,
  range?: { start: number; end: number },
  signal?: AbortSignal,
): Promise<Readable> {
  const rangeHeader =
    range === undefined || range.end <= range.start
      ? undefined
      : `bytes=${range.start}-${range.end - 1}`;
  try {
    const output = await s3.send(
      new GetObjectCommand({
        Bucket: ref.bucket,
        Key: ref.key,
        IfMatch: head.eTag || undefined,
        Range: rangeHeader,
      }),
      { abortSignal: signal },
    );
    return output.Body as Readable;
  } catch (error) {
    if (isPreconditionFailed(error) || isNotFound(error)) {
      throw new ObjectChangedError(
        `${describe(ref)} changed or was deleted while it was read: the record is retried so that the newest version is registered.`,
        { cause: error },
      );
    }
    if (signal?.aborted) {
      throw new ObjectReadError(
        `Reading ${describe(ref)} was stopped before the invocation deadline: the record is retried.`,
        { cause: error },
      );
    }
    const name = error instanceof Error ? error.name : 'Error';
    throw new ObjectReadError(`Reading ${describe(ref)} failed (${name}).`, { cause: error });
  }
}
