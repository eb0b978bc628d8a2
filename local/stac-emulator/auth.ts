import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { ApiError } from './http';

/** Source of the signing keys, and the claims a token must carry. */
export interface AuthOptions {
  /** URL of the user pool's JWKS, such as `<cognito>/<userPoolId>/.well-known/jwks.json`. */
  jwksUrl: string;
  /** Expected `iss` claim; not checked when absent. */
  issuer?: string;
  /** Expected `client_id` claim; not checked when absent. */
  clientId?: string;
}

interface JwtHeader {
  alg?: string;
  kid?: string;
}

interface AccessTokenClaims {
  exp?: unknown;
  nbf?: unknown;
  iss?: unknown;
  client_id?: unknown;
  token_use?: unknown;
}

function unauthorized(description: string): ApiError {
  return new ApiError(401, description, {}, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
}

function decodeSegment<T>(segment: string): T {
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as T;
}

/**
 * Verifies Cognito access tokens as the API gateway in front of service-stac does:
 * RS256 signature against a key of the user pool's JWKS, `exp` in the future,
 * `token_use` equal to `access`, and the issuer and client id when configured.
 * The JWKS is fetched once, on the first write request.
 */
export class AccessTokenVerifier {
  private keys: Promise<Map<string, KeyObject>> | undefined;
  /** Signatures of the tokens seen so far, to identify them without storing whole tokens. */
  private readonly seenTokens = new Set<string>();
  private readonly expiredTokens = new Set<string>();

  constructor(private readonly options: AuthOptions) {}

  private async fetchKeys(): Promise<Map<string, KeyObject>> {
    const response = await fetch(this.options.jwksUrl);
    if (!response.ok) {
      throw new Error(
        `Fetching the JWKS from ${this.options.jwksUrl} failed with HTTP ${response.status}`,
      );
    }
    const jwks = (await response.json()) as { keys?: (JsonWebKey & { kid?: string })[] };
    const keys = new Map<string, KeyObject>();
    for (const jwk of jwks.keys ?? []) {
      if (jwk.kty === 'RSA' && typeof jwk.kid === 'string') {
        keys.set(jwk.kid, createPublicKey({ key: jwk, format: 'jwk' }));
      }
    }
    return keys;
  }

  private loadKeys(): Promise<Map<string, KeyObject>> {
    if (!this.keys) {
      this.keys = this.fetchKeys();
      // Let a later request retry after a failed fetch.
      this.keys.catch(() => {
        this.keys = undefined;
      });
    }
    return this.keys;
  }

  /**
   * Treats every token presented so far as expired, so the next request with one of them gets
   * a 401. Tokens issued later are accepted.
   */
  expireTokensSeen(): number {
    for (const token of this.seenTokens) this.expiredTokens.add(token);
    return this.seenTokens.size;
  }

  /**
   * Verifies the `Authorization` header value. Rejects with a 401 {@link ApiError}
   * carrying `WWW-Authenticate: Bearer` when the token is missing or invalid.
   */
  async verifyAuthorization(authorization: string | undefined, now: Date): Promise<void> {
    const match = /^Bearer +(\S+)$/i.exec(authorization ?? '');
    if (!match) {
      throw new ApiError(
        401,
        'Missing bearer token in the Authorization header',
        {},
        { 'WWW-Authenticate': 'Bearer' },
      );
    }
    const segments = match[1].split('.');
    if (segments.length !== 3) {
      throw unauthorized('Invalid token: not a JWT');
    }
    const [headerSegment, payloadSegment, signatureSegment] = segments;

    let header: JwtHeader;
    let claims: AccessTokenClaims;
    try {
      header = decodeSegment<JwtHeader>(headerSegment);
      claims = decodeSegment<AccessTokenClaims>(payloadSegment);
    } catch {
      throw unauthorized('Invalid token: header or payload is not base64url JSON');
    }
    if (header.alg !== 'RS256') {
      throw unauthorized(`Invalid token: algorithm ${String(header.alg)} is not RS256`);
    }

    const key = (await this.loadKeys()).get(String(header.kid));
    if (!key) {
      throw unauthorized(`Invalid token: no key with kid ${String(header.kid)} in the JWKS`);
    }
    const signedData = Buffer.from(`${headerSegment}.${payloadSegment}`);
    const signature = Buffer.from(signatureSegment, 'base64url');
    if (!verify('RSA-SHA256', signedData, key, signature)) {
      throw unauthorized('Invalid token: signature does not match');
    }

    const nowSecs = now.getTime() / 1000;
    this.seenTokens.add(signatureSegment);
    if (this.expiredTokens.has(signatureSegment)) {
      throw unauthorized('Invalid token: expired');
    }
    if (typeof claims.exp !== 'number' || claims.exp <= nowSecs) {
      throw unauthorized('Invalid token: expired');
    }
    if (typeof claims.nbf === 'number' && claims.nbf > nowSecs) {
      throw unauthorized('Invalid token: not valid yet');
    }
    if (claims.token_use !== 'access') {
      throw unauthorized('Invalid token: token_use is not access');
    }
    if (this.options.issuer !== undefined && claims.iss !== this.options.issuer) {
      throw unauthorized('Invalid token: unexpected issuer');
    }
    if (this.options.clientId !== undefined && claims.client_id !== this.options.clientId) {
      throw unauthorized('Invalid token: unexpected client id');
    }
  }
}
