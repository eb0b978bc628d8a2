import { createHmac } from 'node:crypto';
import {
  type AuthFlowType,
  type CognitoIdentityProviderClient,
  InitiateAuthCommand,
  type InitiateAuthCommandOutput,
} from '@aws-sdk/client-cognito-identity-provider';
import { IngestError } from './errors';
import type { SecretStore, ServiceCredentials } from './secret';

/** Seconds before expiry at which a cached access token is renewed. */
const DEFAULT_RENEW_MARGIN_SECS = 120;

/** Cognito rejected the login or could not be reached. */
export class AuthenticationError extends IngestError {
  readonly retryable = true;
}

/**
 * Cognito answered with a challenge (for example NEW_PASSWORD_REQUIRED or an
 * MFA step) instead of tokens. A person has to settle the user's state, so
 * retrying does not help.
 */
export class AuthChallengeError extends IngestError {
  readonly retryable = false;

  constructor(readonly challengeName: string) {
    super(
      `Cognito answered the login with the challenge ${challengeName}: sign in once as the service user and complete it (for example set a permanent password with admin-set-user-password --permanent), then retry the failed records.`,
    );
  }
}

/** Computes Cognito's SECRET_HASH: Base64(HMAC-SHA256(client secret, username + client id)). */
export function computeSecretHash(
  username: string,
  clientId: string,
  clientSecret: string,
): string {
  return createHmac('sha256', clientSecret)
    .update(username + clientId)
    .digest('base64');
}

/**
 * Reads Cognito's internal user name from an access token without verifying
 * it (Cognito issued it to us): the `username` claim, else `sub`. For users
 * who sign in with an alias such as their e-mail address, both are the sub.
 */
function readInternalUsername(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
      username?: unknown;
      sub?: unknown;
    };
    if (typeof claims.username === 'string') return claims.username;
    return typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}

interface CachedToken {
  readonly accessToken: string;
  readonly expiresAt: number;
  readonly refreshToken?: string;
  /** Cognito's internal user name, which the SECRET_HASH of a refresh is computed with. */
  readonly internalUsername?: string;
  readonly clientId: string;
}

/** Options of {@link TokenProvider}. */
export interface TokenProviderOptions {
  readonly secrets: SecretStore;
  /** Returns the Cognito client for a region; called once per region. */
  readonly cognitoClient: (region: string) => CognitoIdentityProviderClient;
  /** Renew the token this many seconds before it expires. @default 120 */
  readonly renewMarginSecs?: number;
  /** Clock in milliseconds, replaceable in tests. @default Date.now */
  readonly now?: () => number;
  /** Called when a refresh failed and a password login follows, for logging. */
  readonly onRefreshFailed?: (error: unknown) => void;
}

/**
 * Provides a Cognito access token for the STAC API. The token is cached
 * across invocations until `renewMarginSecs` before it expires, then renewed
 * with REFRESH_TOKEN_AUTH, or with a password login when that is not
 * possible or fails.
 */
export class TokenProvider {
  private readonly secrets: SecretStore;
  private readonly cognitoClient: (region: string) => CognitoIdentityProviderClient;
  private readonly clients = new Map<string, CognitoIdentityProviderClient>();
  private readonly renewMarginMs: number;
  private readonly now: () => number;
  private readonly onRefreshFailed?: (error: unknown) => void;
  private cached?: CachedToken;
  private pending?: Promise<CachedToken>;
  private logins = 0;
  private refreshes = 0;

  constructor(options: TokenProviderOptions) {
    this.secrets = options.secrets;
    this.cognitoClient = options.cognitoClient;
    this.renewMarginMs = (options.renewMarginSecs ?? DEFAULT_RENEW_MARGIN_SECS) * 1000;
    this.now = options.now ?? Date.now;
    this.onRefreshFailed = options.onRefreshFailed;
  }

  /** Number of password logins and refreshes sent so far. */
  get stats(): { logins: number; refreshes: number } {
    return { logins: this.logins, refreshes: this.refreshes };
  }

  /** Returns a valid access token, renewing it when it is about to expire. */
  async getToken(): Promise<string> {
    const cached = this.cached;
    if (cached !== undefined && this.now() < cached.expiresAt - this.renewMarginMs) {
      return cached.accessToken;
    }

    // Concurrent callers wait for one renewal.
    if (this.pending === undefined) {
      this.pending = this.renew(cached).finally(() => {
        this.pending = undefined;
      });
    }
    const token = await this.pending;
    return token.accessToken;
  }

  /**
   * Marks the current access token as rejected (the API returned 401), so the
   * next {@link getToken} call renews it.
   */
  invalidate(rejectedToken?: string): void {
    if (rejectedToken === undefined || this.cached?.accessToken === rejectedToken) {
      this.cached =
        this.cached?.refreshToken === undefined
          ? undefined
          : { ...this.cached, accessToken: '', expiresAt: 0 };
    }
  }

  private async renew(previous: CachedToken | undefined): Promise<CachedToken> {
    const credentials = await this.secrets.get();

    if (previous?.refreshToken !== undefined && previous.clientId === credentials.clientId) {
      try {
        this.cached = await this.refresh(credentials, previous);
        return this.cached;
      } catch (error) {
        if (error instanceof AuthChallengeError) throw error;
        // An expired or revoked refresh token is normal: fall back to the password.
        this.onRefreshFailed?.(error);
      }
    }

    this.cached = await this.loginWithRotation(credentials);
    return this.cached;
  }

  /**
   * Logs in with the password; when Cognito rejects it, reads the secret
   * again (it may have been rotated) and tries once more.
   */
  private async loginWithRotation(credentials: ServiceCredentials): Promise<CachedToken> {
    try {
      return await this.login(credentials);
    } catch (error) {
      if (!(error instanceof AuthenticationError) || !isNotAuthorized(error.cause)) throw error;
      this.secrets.invalidate();
      return this.login(await this.secrets.get());
    }
  }

  private login(credentials: ServiceCredentials): Promise<CachedToken> {
    this.logins += 1;
    const parameters: Record<string, string> = {
      USERNAME: credentials.username,
      PASSWORD: credentials.password,
    };
    if (credentials.clientSecret !== undefined) {
      parameters.SECRET_HASH = computeSecretHash(
        credentials.username,
        credentials.clientId,
        credentials.clientSecret,
      );
    }
    return this.initiateAuth(credentials, 'USER_PASSWORD_AUTH', parameters, undefined);
  }

  private refresh(credentials: ServiceCredentials, previous: CachedToken): Promise<CachedToken> {
    this.refreshes += 1;
    const parameters: Record<string, string> = { REFRESH_TOKEN: previous.refreshToken ?? '' };
    if (credentials.clientSecret !== undefined) {
      // For refreshes Cognito hashes the user's internal name, not the sign-in alias.
      const username = previous.internalUsername ?? credentials.username;
      parameters.SECRET_HASH = computeSecretHash(
        username,
        credentials.clientId,
        credentials.clientSecret,
      );
    }
    return this.initiateAuth(credentials, 'REFRESH_TOKEN_AUTH', parameters, previous);
  }

  private async initiateAuth(
    credentials: ServiceCredentials,
    flow: AuthFlowType,
    parameters: Record<string, string>,
    previous: CachedToken | undefined,
  ): Promise<CachedToken> {
    const requestedAt = this.now();
    let output: InitiateAuthCommandOutput;
    try {
      output = await this.client(credentials.region).send(
        new InitiateAuthCommand({
          AuthFlow: flow,
          ClientId: credentials.clientId,
          AuthParameters: parameters,
        }),
      );
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      const hint = isNotAuthorized(error)
        ? 'check the username, password and client secret in the secret'
        : 'check the region and app client id in the secret, and that the app client allows USER_PASSWORD_AUTH';
      throw new AuthenticationError(`Cognito ${flow} failed (${name}): ${hint}.`, {
        cause: error,
      });
    }

    if (output.ChallengeName !== undefined) {
      throw new AuthChallengeError(output.ChallengeName);
    }
    const result = output.AuthenticationResult;
    if (result?.AccessToken === undefined) {
      throw new AuthenticationError(`Cognito ${flow} returned no access token.`);
    }

    const expiresInSecs = result.ExpiresIn ?? 3600;
    return {
      accessToken: result.AccessToken,
      expiresAt: requestedAt + expiresInSecs * 1000,
      // A refresh response may omit the refresh token: keep the previous one.
      refreshToken: result.RefreshToken ?? previous?.refreshToken,
      internalUsername: readInternalUsername(result.AccessToken) ?? previous?.internalUsername,
      clientId: credentials.clientId,
    };
  }

  private client(region: string): CognitoIdentityProviderClient {
    let client = this.clients.get(region);
    if (client === undefined) {
      client = this.cognitoClient(region);
      this.clients.set(region, client);
    }
    return client;
  }
}

function isNotAuthorized(error: unknown): boolean {
  return error instanceof Error && error.name === 'NotAuthorizedException';
}
