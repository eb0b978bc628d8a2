import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import type { TokenProvider } from './cognito';
import { IngestError } from './errors';
import { redactText, sanitizeError } from './redact';
import type { AssetMetadata, AssetTarget, PartMd5 } from './types';

/** Statuses the API's documentation says are worth retrying. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** Default number of retries after the first attempt of a request. */
const DEFAULT_MAX_RETRIES = 3;
/** First backoff delay; each retry doubles it, with full jitter. */
const BASE_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5000;
/** Default time limit of one request. */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
/** Default time kept free before the invocation deadline for aborting an upload. */
const DEFAULT_RESERVE_MS = 5000;
/** Time an abort leaves before the deadline, for returning the batch response. */
const ABORT_SAFETY_MS = 500;
/** Shortest time limit worth sending a request with. */
const MIN_REQUEST_TIME_MS = 250;

/**
 * Tells whether a later delivery of the record can succeed after this status: it can after a
 * network error, 401, 408, 409, 429 and 5xx. Other 4xx need a person to fix the input or setup.
 */
function isRetryableLater(status: number | undefined): boolean {
  return (
    status === undefined ||
    status >= 500 ||
    status === 401 ||
    status === 408 ||
    status === 409 ||
    status === 429
  );
}

/** A request to the STAC API or to a presigned part URL failed. */
export class StacApiError extends IngestError {
  /** Whether a later delivery of the record can succeed. */
  readonly retryable: boolean;
  /** Whether the request itself is retried within the invocation. */
  readonly transient: boolean;
  /** Attempts made before this error was raised. */
  attempts = 1;

  constructor(
    message: string,
    readonly status: number | undefined,
    readonly responseBody?: unknown,
    options?: { cause?: unknown; retryable?: boolean; transient?: boolean },
  ) {
    super(message, options);
    this.retryable = options?.retryable ?? isRetryableLater(status);
    this.transient = options?.transient ?? (status === undefined || RETRYABLE_STATUSES.has(status));
  }
}

/**
 * Too little time is left in the invocation to send a request or retry it. The record is
 * retried by a later delivery.
 */
export class DeadlineExceededError extends StacApiError {
  constructor(operation: string, leftMs: number) {
    super(
      `Not enough time left in the invocation (${Math.max(0, Math.round(leftMs))} ms before the reserve) for ${operation}: the record will be retried.`,
      undefined,
      undefined,
      { retryable: true, transient: false },
    );
  }
}

/** Asset as the API returns it. */
export interface StacAsset extends AssetMetadata {
  'file:checksum'?: string;
  href?: string;
}

/** Presigned URL of one part, as returned by upload creation. */
export interface UploadUrl {
  readonly url: string;
  readonly part: number;
  readonly expires: string;
}

/** Multipart upload as the API returns it. */
export interface StacUpload {
  readonly upload_id: string;
  readonly status: 'in-progress' | 'completed' | 'aborted';
  readonly number_parts: number;
  readonly urls?: UploadUrl[];
  readonly created: string;
  readonly completed?: string;
  readonly 'file:checksum': string;
  readonly content_encoding?: string;
}

/** Body of upload creation. */
export interface CreateUploadRequest {
  readonly number_parts: number;
  readonly md5_parts: PartMd5[];
  readonly 'file:checksum': string;
  /** Set when the stored bytes are compressed; `file:checksum` then covers the decoded data. */
  readonly content_encoding?: 'gzip' | 'br';
}

/** Options of {@link StacClient}. */
export interface StacClientOptions {
  /** Root of the STAC API v1, for example `https://data.geo.admin.ch/api/stac/v1`. */
  readonly baseUrl: string;
  readonly tokens: TokenProvider;
  /** Retries after the first attempt for retryable failures. @default 3 */
  readonly maxRetries?: number;
  /** Time limit of one request in milliseconds. @default 30000 */
  readonly requestTimeoutMs?: number;
  /**
   * Milliseconds left in the invocation. Requests and retries end `reserveMs` before that
   * deadline, except aborts, which may use the reserve. @default unlimited
   */
  readonly remainingTimeMs?: () => number;
  /** Time kept free before the deadline for aborting an upload, in milliseconds. @default 5000 */
  readonly reserveMs?: number;
  /** Called before each retry, for logging. */
  readonly onRetry?: (details: { operation: string; attempt: number; error: StacApiError }) => void;
}

/** Removes the query string, which for presigned URLs contains the signature. */
export function redactUrl(url: string): string {
  const index = url.indexOf('?');
  return index === -1 ? url : url.slice(0, index);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Client of the transactional STAC API: assets and their multipart uploads.
 * Retries 429, 502, 503, 504 and network errors with exponential backoff
 * and jitter; a 401 gets one new token and one retry.
 */
export class StacClient {
  private readonly options: StacClientOptions;
  private readonly baseUrl: string;
  private readonly tokens: TokenProvider;
  private readonly maxRetries: number;
  private readonly requestTimeoutMs: number;
  private readonly remainingTimeMs: () => number;
  private readonly reserveMs: number;
  private readonly onRetry?: StacClientOptions['onRetry'];
  private readonly counter: { requests: number };

  constructor(options: StacClientOptions, counter = { requests: 0 }) {
    this.options = options;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.tokens = options.tokens;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.remainingTimeMs = options.remainingTimeMs ?? (() => Number.POSITIVE_INFINITY);
    this.reserveMs = options.reserveMs ?? DEFAULT_RESERVE_MS;
    this.onRetry = options.onRetry;
    this.counter = counter;
  }

  /**
   * Returns a client bound to one invocation's deadline. It shares the token provider and
   * the request count with this client.
   */
  withDeadline(remainingTimeMs: () => number, reserveMs?: number): StacClient {
    return new StacClient(
      { ...this.options, remainingTimeMs, reserveMs: reserveMs ?? this.options.reserveMs },
      this.counter,
    );
  }

  /** Number of HTTP requests sent so far, parts included. */
  get requestCount(): number {
    return this.counter.requests;
  }

  /**
   * Returns the time a request may take: the time left before the reserve, or for an abort
   * the time left before the deadline itself.
   */
  private timeLeftMs(cleanup: boolean): number {
    const remaining = this.remainingTimeMs();
    return cleanup ? remaining - ABORT_SAFETY_MS : remaining - this.reserveMs;
  }

  /** Returns the time limit for the next request, or throws when too little time is left. */
  private requestTimeLimitMs(operation: string, cleanup: boolean): number {
    const left = this.timeLeftMs(cleanup);
    if (left < MIN_REQUEST_TIME_MS) throw new DeadlineExceededError(operation, left);
    return Math.min(this.requestTimeoutMs, left);
  }

  /** Path of an asset below the API root. */
  assetPath(target: AssetTarget): string {
    const collection = `/collections/${encodeURIComponent(target.collection)}`;
    const item = target.item === undefined ? '' : `/items/${encodeURIComponent(target.item)}`;
    return `${collection}${item}/assets/${encodeURIComponent(target.asset)}`;
  }

  /** Returns true when the collection exists. */
  async collectionExists(collection: string): Promise<boolean> {
    const path = `/collections/${encodeURIComponent(collection)}`;
    const response = await this.send('GET', path, undefined, { allow404: true });
    return response.status !== 404;
  }

  /** Reads an asset; returns undefined when it does not exist. */
  async getAsset(target: AssetTarget): Promise<StacAsset | undefined> {
    const path = this.assetPath(target);
    const response = await this.send('GET', path, undefined, { allow404: true });
    if (response.status === 404) return undefined;

    // A proxy or maintenance page may return 200 with another body. Acting on it as an
    // asset would, for example, report a media type conflict that does not exist.
    const body = response.body as Partial<StacAsset> | undefined;
    if (typeof body !== 'object' || body === null || typeof body.type !== 'string') {
      throw new StacApiError(
        `GET ${path} returned HTTP ${response.status} without an asset in its body: check STAC_API_URL, the record is retried.`,
        response.status,
        undefined,
        { retryable: true },
      );
    }
    return body as StacAsset;
  }

  /** Creates or updates the asset's metadata; returns true when it was created. */
  async putAsset(target: AssetTarget, metadata: AssetMetadata): Promise<boolean> {
    const response = await this.send('PUT', this.assetPath(target), metadata);
    return response.status === 201;
  }

  /** Starts a multipart upload and returns it with its presigned part URLs. */
  async createUpload(target: AssetTarget, body: CreateUploadRequest): Promise<StacUpload> {
    const response = await this.send('POST', `${this.assetPath(target)}/uploads`, body);
    return response.body as StacUpload;
  }

  /** Reads one upload. */
  async getUpload(target: AssetTarget, uploadId: string): Promise<StacUpload> {
    const path = `${this.assetPath(target)}/uploads/${encodeURIComponent(uploadId)}`;
    const response = await this.send('GET', path);
    return response.body as StacUpload;
  }

  /** Lists the asset's uploads, optionally only those with a status. */
  async listUploads(target: AssetTarget, status?: StacUpload['status']): Promise<StacUpload[]> {
    const query = status === undefined ? '' : `?status=${status}`;
    const response = await this.send('GET', `${this.assetPath(target)}/uploads${query}`);
    return (response.body as { uploads?: StacUpload[] }).uploads ?? [];
  }

  /** Completes an upload with the ETags of its parts. */
  async completeUpload(
    target: AssetTarget,
    uploadId: string,
    parts: { etag: string; part_number: number }[],
  ): Promise<StacUpload> {
    const path = `${this.assetPath(target)}/uploads/${encodeURIComponent(uploadId)}/complete`;
    const response = await this.send('POST', path, { parts });
    return response.body as StacUpload;
  }

  /**
   * Deletes an asset; a missing asset counts as deleted. Like an abort, it may use the time
   * reserved before the invocation deadline, because it cleans up after a failure.
   */
  async deleteAsset(target: AssetTarget): Promise<void> {
    // One attempt only: the caller checked the asset just before, and a retry after a backoff
    // would act on a state that may have changed in the meantime.
    await this.send('DELETE', this.assetPath(target), undefined, {
      allow404: true,
      cleanup: true,
      once: true,
    });
  }

  /**
   * Aborts an upload, which drops its parts. The abort may use the time reserved before the
   * invocation deadline.
   */
  async abortUpload(target: AssetTarget, uploadId: string): Promise<void> {
    const path = `${this.assetPath(target)}/uploads/${encodeURIComponent(uploadId)}/abort`;
    await this.send('POST', path, {}, { cleanup: true });
  }

  /**
   * Sends one part to its presigned URL with its Content-MD5 and returns the
   * ETag. `openBody` is called once per attempt, so a retry reads the part again.
   */
  async uploadPart(
    url: string,
    part: { partNumber: number; md5: string; size: number },
    openBody: () => Promise<Readable>,
  ): Promise<string> {
    const operation = `PUT part ${part.partNumber} to ${redactUrl(url)}`;
    return this.withRetries(operation, false, false, async () => {
      const timeLimitMs = this.requestTimeLimitMs(operation, false);
      const body = await openBody();
      const response = await this.putStream(
        url,
        body,
        { 'Content-MD5': part.md5, 'Content-Length': String(part.size) },
        timeLimitMs,
      );
      if (response.status !== 200) {
        // Only the code and message are kept: S3 errors may echo the signature.
        const summary = summarizeXmlError(response.text);
        throw new StacApiError(
          `${operation} failed with HTTP ${response.status}: ${summary}`,
          response.status,
          summary,
        );
      }
      const etag = response.headers.etag;
      if (typeof etag !== 'string' || etag === '') {
        throw new StacApiError(`${operation} returned no ETag header.`, response.status);
      }
      return etag;
    });
  }

  private async send(
    method: string,
    path: string,
    body?: unknown,
    options: { allow404?: boolean; cleanup?: boolean; once?: boolean } = {},
  ): Promise<{ status: number; body: unknown }> {
    const operation = `${method} ${path}`;
    const cleanup = options.cleanup ?? false;
    let renewedToken = false;

    return this.withRetries(operation, cleanup, options.once ?? false, async () => {
      const timeLimitMs = this.requestTimeLimitMs(operation, cleanup);
      const token = method === 'GET' ? undefined : await this.tokens.getToken();
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (token !== undefined) headers.Authorization = `Bearer ${token}`;
      if (body !== undefined) headers['Content-Type'] = 'application/json';

      let response: Response;
      let text: string;
      this.counter.requests += 1;
      try {
        const signal = AbortSignal.timeout(timeLimitMs);
        response = await fetch(`${this.baseUrl}${path}`, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
        text = await response.text();
      } catch (error) {
        throw new StacApiError(
          `${operation} failed after at most ${timeLimitMs} ms: ${describeNetworkError(error)}`,
          undefined,
          undefined,
          { cause: sanitizeError(error) },
        );
      }

      const parsed = parseJson(text);
      if (response.ok || (options.allow404 && response.status === 404)) {
        return { status: response.status, body: parsed };
      }

      if (response.status === 401 && token !== undefined && !renewedToken) {
        // One new token and one more attempt; a second 401 is final.
        renewedToken = true;
        this.tokens.invalidate(token);
        throw new StacApiError(`${operation} was rejected with HTTP 401.`, 401, parsed, {
          retryable: true,
          transient: true,
        });
      }
      throw new StacApiError(
        `${operation} failed with HTTP ${response.status}: ${describeApiError(parsed, text)}`,
        response.status,
        parsed,
      );
    });
  }

  /**
   * Runs `attempt` and retries transient failures with exponential backoff and full jitter,
   * at most `maxRetries` times and only while the backoff and another request fit in the
   * time left. The error raised carries the number of attempts made.
   */
  private async withRetries<T>(
    operation: string,
    cleanup: boolean,
    once: boolean,
    attempt: () => Promise<T>,
  ): Promise<T> {
    for (let retry = 0; ; retry += 1) {
      try {
        return await attempt();
      } catch (error) {
        if (error instanceof StacApiError) error.attempts = retry + 1;
        const maxRetries = once ? 0 : this.maxRetries;
        if (!(error instanceof StacApiError) || !error.transient || retry >= maxRetries) {
          throw error;
        }
        const ceiling = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** retry);
        // The API's documentation requires at least 100 ms. A 401 is retried at once.
        const delayMs = error.status === 401 ? 0 : 100 + Math.random() * ceiling;
        if (this.timeLeftMs(cleanup) - delayMs < MIN_REQUEST_TIME_MS) throw error;
        this.onRetry?.({ operation, attempt: retry + 1, error });
        if (delayMs > 0) await sleep(delayMs);
      }
    }
  }

  /**
   * Streams `body` to `url`. The request fails when the connection is idle for the request
   * timeout, or when it runs longer than `timeLimitMs` in total.
   */
  private putStream(
    url: string,
    body: Readable,
    headers: Record<string, string>,
    timeLimitMs: number,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; text: string }> {
    this.counter.requests += 1;
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;

    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const fail = (error: unknown) => {
        clearTimeout(timer);
        body.destroy();
        reject(
          new StacApiError(
            `PUT ${redactUrl(url)} failed: ${describeNetworkError(error)}`,
            undefined,
            undefined,
            { cause: sanitizeError(error) },
          ),
        );
      };
      const request = send(
        url,
        { method: 'PUT', headers, timeout: Math.min(this.requestTimeoutMs, timeLimitMs) },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', fail);
          response.on('end', () => {
            clearTimeout(timer);
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              text: Buffer.concat(chunks).toString('utf8'),
            });
          });
        },
      );
      timer = setTimeout(
        () => request.destroy(new Error(`request timed out after ${timeLimitMs} ms`)),
        timeLimitMs,
      );
      request.on('timeout', () => request.destroy(new Error('request timed out (idle)')));
      request.on('error', fail);
      body.on('error', (error) => request.destroy(error));
      body.pipe(request);
    });
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function describeApiError(parsed: unknown, text: string): string {
  if (typeof parsed === 'object' && parsed !== null && 'description' in parsed) {
    const description = (parsed as { description: unknown }).description;
    return typeof description === 'string' ? description : JSON.stringify(description);
  }
  return text.slice(0, 500) || '(empty body)';
}

function summarizeXmlError(text: string): string {
  const code = text.match(/<Code>([^<]*)<\/Code>/)?.[1];
  const message = text.match(/<Message>([^<]*)<\/Message>/)?.[1];
  if (code === undefined) return text.slice(0, 200) || '(empty body)';
  return message === undefined ? code : `${code}: ${message}`;
}

function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return redactText(String(error));
  const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return redactText(`${error.message}${cause}`);
}
