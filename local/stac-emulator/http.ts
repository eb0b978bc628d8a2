import type { IncomingMessage, ServerResponse } from 'node:http';

/** Largest JSON request body the emulator reads, in bytes. */
const MAX_JSON_BODY_BYTES = 1024 * 1024;

/**
 * Error sent as the API's JSON error body `{code, description}`.
 * `extra` adds members to that body, such as `upload_id` on a 409.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly description: string | Record<string, string[]>,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof description === 'string' ? description : JSON.stringify(description));
    this.name = 'ApiError';
  }
}

/** Error sent as an S3 XML error document, as S3 returns for presigned URL requests. */
export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

/** Builds a 400 error whose description names the invalid field, as Django REST framework does. */
export function validationError(field: string, message: string): ApiError {
  return new ApiError(400, { [field]: [message] });
}

/** Builds the 404 error the API returns for a missing resource. */
export function notFound(resource: string): ApiError {
  return new ApiError(404, `${resource} not found`);
}

/** Sends `body` as JSON with the given status. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends an {@link ApiError} as `{code, description, ...extra}`. */
export function sendApiError(res: ServerResponse, error: ApiError): void {
  sendJson(
    res,
    error.status,
    { code: error.status, description: error.description, ...error.extra },
    error.headers,
  );
}

function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

/** Sends an {@link S3Error} as an S3 XML `<Error>` document. */
export function sendS3Error(res: ServerResponse, error: S3Error): void {
  const elements = [
    `<Code>${escapeXml(error.code)}</Code>`,
    `<Message>${escapeXml(error.message)}</Message>`,
    ...Object.entries(error.details).map(
      ([name, value]) => `<${name}>${escapeXml(value)}</${name}>`,
    ),
  ];
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${elements.join('')}</Error>`;
  res.writeHead(error.status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Reads and parses a JSON request body.
 * Rejects with a 400 {@link ApiError} on invalid JSON, a body that is not an object,
 * or a body larger than 1 MiB.
 */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BODY_BYTES) {
      throw new ApiError(400, `Request body larger than ${MAX_JSON_BODY_BYTES} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ApiError(400, `Invalid JSON body: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ApiError(400, 'Invalid JSON body: expected an object');
  }
  return parsed as Record<string, unknown>;
}

/** Reads and discards a request body, so that the connection can be reused. */
export async function drainBody(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // Discard.
  }
}
