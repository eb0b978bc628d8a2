import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { S3Error } from './http';

/** Path prefix of presigned part URLs on the emulator. */
export const UPLOAD_PATH_PREFIX = '/_upload/';

/** A presigned URL for one part, in the API's `urls` entry shape. */
export interface PresignedPartUrl {
  url: string;
  part: number;
  expires: string;
}

/** The upload and part that a part URL path names. */
export interface PresignedPartGrant {
  uploadId: string;
  part: number;
}

function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function parseAmzDate(value: string): number {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) {
    return Number.NaN;
  }
  const [, year, month, day, hour, minute, second] = match;
  return Date.UTC(+year, +month - 1, +day, +hour, +minute, +second);
}

/**
 * Signs and verifies part URLs with an HMAC-SHA256 over the method, path, date, lifetime
 * and the part's Content-MD5. Like an S3 presigned URL whose signed headers include
 * `content-md5`, a request must send exactly that Content-MD5 header.
 */
export class PartUrlSigner {
  private readonly key = randomBytes(32);
  /** Uploads whose URLs were expired early by {@link PartUrlSigner.expireUrlsOf}. */
  private readonly expiredUploads = new Set<string>();

  /**
   * @param origin - scheme, host and port of the emulator, such as `http://127.0.0.1:8080`
   * @param ttlSecs - lifetime of each URL in seconds
   */
  constructor(
    private readonly origin: string,
    private readonly ttlSecs: number,
  ) {}

  private signature(path: string, amzDate: string, expires: string, contentMd5: string): string {
    return createHmac('sha256', this.key)
      .update(['PUT', path, amzDate, expires, `content-md5:${contentMd5}`].join('\n'))
      .digest('hex');
  }

  /** Creates the presigned URL of `part`, valid from `now` for the configured lifetime. */
  sign(uploadId: string, part: number, contentMd5: string, now: Date): PresignedPartUrl {
    const path = `${UPLOAD_PATH_PREFIX}${encodeURIComponent(uploadId)}/${part}`;
    const amzDate = formatAmzDate(now);
    const expires = String(this.ttlSecs);
    const query = new URLSearchParams({
      'X-Amz-Algorithm': 'HMAC-SHA256',
      'X-Amz-Date': amzDate,
      'X-Amz-Expires': expires,
      'X-Amz-SignedHeaders': 'content-md5;host',
      'X-Amz-Signature': this.signature(path, amzDate, expires, contentMd5),
    });
    return {
      url: `${this.origin}${path}?${query}`,
      part,
      expires: new Date(now.getTime() + this.ttlSecs * 1000).toISOString(),
    };
  }

  /**
   * Verifies a part request with the errors S3 returns: a signature that does not match the URL
   * and `Content-MD5` header (also when that header is missing) is a 403
   * `SignatureDoesNotMatch`, and a URL past its lifetime is a 403 `AccessDenied`.
   * `expectedMd5` is the part's MD5 registered when the upload was created.
   */
  verify(url: URL, contentMd5: string | undefined, expectedMd5: string, now: Date): void {
    const amzDate = url.searchParams.get('X-Amz-Date') ?? '';
    const expires = url.searchParams.get('X-Amz-Expires') ?? '';
    const provided = url.searchParams.get('X-Amz-Signature') ?? '';
    const mismatch = new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { SignatureProvided: provided },
    );

    // The URL itself must carry the signature of its path, date and lifetime.
    const urlSignature = Buffer.from(this.signature(url.pathname, amzDate, expires, expectedMd5));
    const providedBytes = Buffer.from(provided);
    if (
      providedBytes.length !== urlSignature.length ||
      !timingSafeEqual(providedBytes, urlSignature)
    ) {
      throw mismatch;
    }

    const signedAt = parseAmzDate(amzDate);
    const expiresAt = signedAt + Number(expires) * 1000;
    const uploadId = PartUrlSigner.parsePath(url.pathname)?.uploadId;
    const expiredEarly = uploadId !== undefined && this.expiredUploads.has(uploadId);
    if (now.getTime() > expiresAt || expiredEarly) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired', {
        Expires: new Date(expiresAt).toISOString(),
        ServerTime: now.toISOString(),
      });
    }

    // The Content-MD5 header is a signed header, so a missing or different value breaks the signature.
    if (contentMd5 !== expectedMd5) {
      throw mismatch;
    }
  }

  /** Makes every URL of an upload expired from now on, as if its lifetime had passed. */
  expireUrlsOf(uploadId: string): void {
    this.expiredUploads.add(uploadId);
  }

  /** Parses the upload id and part number from a part URL path, or returns undefined. */
  static parsePath(pathname: string): PresignedPartGrant | undefined {
    const rest = pathname.slice(UPLOAD_PATH_PREFIX.length).split('/');
    if (!pathname.startsWith(UPLOAD_PATH_PREFIX) || rest.length !== 2) {
      return undefined;
    }
    const part = Number(rest[1]);
    if (!Number.isInteger(part) || part < 1) {
      return undefined;
    }
    return { uploadId: decodeURIComponent(rest[0]), part };
  }
}
