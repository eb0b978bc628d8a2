/** Text that replaces a redacted value in logs and error messages. */
export const REDACTED = '[REDACTED]';

/** Log keys whose values are credentials, matched case-insensitively. */
const SECRET_KEY_PATTERN =
  /^(authorization|password|clientsecret|client_secret|secret_hash|accesstoken|access_token|refreshtoken|refresh_token|idtoken|id_token|token|x-amz-security-token)$/i;

/** Keys of SDK errors that contain the raw HTTP response, which the log does not need. */
const DROPPED_ERROR_KEYS = new Set(['$response', 'responseBody']);

/** The query string of an http(s) URL, which contains the signature of a presigned URL. */
const URL_QUERY_PATTERN = /(https?:\/\/[^\s?#"'<>]+)\?[^\s#"'<>]*/gi;
/** A bearer token in an Authorization header value. */
const BEARER_PATTERN = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]+/gi;
/** A JSON Web Token: three base64url segments, the first starting with `eyJ` (`{"`). */
const JWT_PATTERN = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;
/** Signature parameters of AWS SigV4 outside a URL, such as in an S3 XML error. */
const SIGNATURE_PARAMETER_PATTERN = /(X-Amz-Signature|X-Amz-Credential|Signature)=([^&\s"'<>]+)/gi;
/** The SignatureProvided element of an S3 XML error. */
const SIGNATURE_ELEMENT_PATTERN = /<SignatureProvided>[^<]*<\/SignatureProvided>/gi;

/**
 * Removes credentials from text: the query string of every URL (presigned URLs carry their
 * signature there), bearer tokens, JSON Web Tokens and SigV4 signature parameters.
 */
export function redactText(text: string): string {
  return text
    .replace(URL_QUERY_PATTERN, '$1')
    .replace(BEARER_PATTERN, `$1 ${REDACTED}`)
    .replace(JWT_PATTERN, REDACTED)
    .replace(SIGNATURE_PARAMETER_PATTERN, `$1=${REDACTED}`)
    .replace(SIGNATURE_ELEMENT_PATTERN, `<SignatureProvided>${REDACTED}</SignatureProvided>`);
}

/** Maximum depth of causes that {@link sanitizeError} copies. */
const MAX_CAUSE_DEPTH = 5;

/**
 * Copies an error for use as a `cause`: its name, redacted message, and `code` when it is a
 * string (such as ECONNRESET), with its causes copied the same way. Every other field is
 * dropped, so that a logged cause cannot carry request headers, signed URLs or SDK response
 * objects.
 */
export function sanitizeError(error: unknown, depth = 0): Error {
  if (!(error instanceof Error)) return new Error(redactText(String(error)));
  const cause =
    error.cause !== undefined && depth < MAX_CAUSE_DEPTH
      ? sanitizeError(error.cause, depth + 1)
      : undefined;
  const copy = new Error(
    redactText(error.message),
    cause === undefined ? undefined : { cause },
  ) as Error & {
    code?: string;
  };
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') copy.code = code;
  return copy;
}

/**
 * JSON replacer for the Powertools Logger (`jsonReplacerFn`): replaces the values of
 * credential keys with {@link REDACTED}, drops raw SDK responses and redacts every string
 * with {@link redactText}. Powertools calls it before it formats errors, and again for each
 * field of the formatted error.
 */
export function redactLogValue(key: string, value: unknown): unknown {
  if (key !== '' && SECRET_KEY_PATTERN.test(key)) return REDACTED;
  if (DROPPED_ERROR_KEYS.has(key)) return undefined;
  if (typeof value === 'string') return redactText(value);
  return value;
}
