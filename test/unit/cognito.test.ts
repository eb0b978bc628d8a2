import {
  CognitoIdentityProviderClient,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import {
  AuthChallengeError,
  AuthenticationError,
  computeSecretHash,
  TokenProvider,
} from '../../lambdas/ingest/cognito';
import { SecretStore } from '../../lambdas/ingest/secret';

const cognitoMock = mockClient(CognitoIdentityProviderClient);
const secretsMock = mockClient(SecretsManagerClient);

const CREDENTIALS = {
  username: 'ingest-bot',
  password: 'pa55-word-value',
  clientId: 'client123',
  clientSecret: 'client-secret-value',
  region: 'eu-central-1',
};
const SUBJECT = '0b7e-sub-1234';

/** Builds an unsigned JWT with the given subject, which the provider only decodes. */
function fakeJwt(subject: string, label: string, username?: string): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'none' })}.${encode({ sub: subject, username, label })}.`;
}

function notAuthorized(): Error {
  return Object.assign(new Error('Incorrect username or password.'), {
    name: 'NotAuthorizedException',
  });
}

function createProvider(now: () => number = Date.now) {
  const secrets = new SecretStore({ client: new SecretsManagerClient({}), secretId: 'svc' });
  const regions: string[] = [];
  const provider = new TokenProvider({
    secrets,
    cognitoClient: (region) => {
      regions.push(region);
      return new CognitoIdentityProviderClient({ region });
    },
    renewMarginSecs: 60,
    now,
  });
  return { provider, secrets, regions };
}

describe('cognito', () => {
  beforeEach(() => {
    cognitoMock.reset();
    secretsMock.reset();
    secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(CREDENTIALS) });
  });

  describe('computeSecretHash', () => {
    it('matches an HMAC-SHA256 computed independently', () => {
      // Act
      const hash = computeSecretHash('ingest-bot', 'client123', 'client-secret-value');

      // Assert
      expect(hash).toBe('z41MVy5VDY1aR5vzDkgn7TUxlowePeaZdhg5hlX1ras=');
    });
  });

  describe('TokenProvider', () => {
    it('logs in with the password and secret hash', async () => {
      // Arrange
      cognitoMock.on(InitiateAuthCommand).resolves({
        AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'a'), ExpiresIn: 3600 },
      });
      const { provider, regions } = createProvider();

      // Act
      const token = await provider.getToken();

      // Assert
      expect(token).toBe(fakeJwt(SUBJECT, 'a'));
      expect(regions).toEqual(['eu-central-1']);
      expect(cognitoMock).toHaveReceivedCommandWith(InitiateAuthCommand, {
        AuthFlow: 'USER_PASSWORD_AUTH',
        ClientId: 'client123',
        AuthParameters: {
          USERNAME: 'ingest-bot',
          PASSWORD: 'pa55-word-value',
          SECRET_HASH: 'z41MVy5VDY1aR5vzDkgn7TUxlowePeaZdhg5hlX1ras=',
        },
      });
    });

    it('sends no secret hash without a client secret', async () => {
      // Arrange
      const { clientSecret: _secret, ...withoutSecret } = CREDENTIALS;
      secretsMock
        .on(GetSecretValueCommand)
        .resolves({ SecretString: JSON.stringify(withoutSecret) });
      cognitoMock.on(InitiateAuthCommand).resolves({
        AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'a'), ExpiresIn: 3600 },
      });
      const { provider } = createProvider();

      // Act
      await provider.getToken();

      // Assert
      const input = cognitoMock.commandCalls(InitiateAuthCommand)[0].args[0].input;
      expect(input.AuthParameters).toEqual({ USERNAME: 'ingest-bot', PASSWORD: 'pa55-word-value' });
    });

    it('reuses the token until shortly before it expires', async () => {
      // Arrange
      let now = 0;
      cognitoMock.on(InitiateAuthCommand, { AuthFlow: 'USER_PASSWORD_AUTH' }).resolves({
        AuthenticationResult: {
          AccessToken: fakeJwt(SUBJECT, 'first'),
          RefreshToken: 'refresh-1',
          ExpiresIn: 300,
        },
      });
      cognitoMock.on(InitiateAuthCommand, { AuthFlow: 'REFRESH_TOKEN_AUTH' }).resolves({
        AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'second'), ExpiresIn: 300 },
      });
      const { provider } = createProvider(() => now);

      // Act
      const first = await provider.getToken();
      now = 239_000;
      const stillFirst = await provider.getToken();
      now = 240_000;
      const second = await provider.getToken();

      // Assert
      expect(first).toBe(fakeJwt(SUBJECT, 'first'));
      expect(stillFirst).toBe(first);
      expect(second).toBe(fakeJwt(SUBJECT, 'second'));
      expect(provider.stats).toEqual({ logins: 1, refreshes: 1 });
    });

    it('hashes the sub without a username claim', async () => {
      // Arrange
      let now = 0;
      cognitoMock.on(InitiateAuthCommand, { AuthFlow: 'USER_PASSWORD_AUTH' }).resolves({
        AuthenticationResult: {
          AccessToken: fakeJwt(SUBJECT, 'first'),
          RefreshToken: 'refresh-1',
          ExpiresIn: 100,
        },
      });
      cognitoMock.on(InitiateAuthCommand, { AuthFlow: 'REFRESH_TOKEN_AUTH' }).resolves({
        AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'second'), ExpiresIn: 100 },
      });
      const { provider } = createProvider(() => now);

      // Act
      await provider.getToken();
      now = 100_000;
      await provider.getToken();

      // Assert
      expect(cognitoMock).toHaveReceivedCommandWith(InitiateAuthCommand, {
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        ClientId: 'client123',
        AuthParameters: {
          REFRESH_TOKEN: 'refresh-1',
          SECRET_HASH: 'TIBx+E5PbsQXMJELxNpy4DVtqmhclxUlyDXEfEbiK9g=',
        },
      });
    });

    it('hashes the username claim when refreshing', async () => {
      // Arrange
      let now = 0;
      cognitoMock.on(InitiateAuthCommand, { AuthFlow: 'USER_PASSWORD_AUTH' }).resolves({
        AuthenticationResult: {
          AccessToken: fakeJwt('other-sub', 'first', 'ingest-bot'),
          RefreshToken: 'refresh-1',
          ExpiresIn: 100,
        },
      });
      cognitoMock.on(InitiateAuthCommand, { AuthFlow: 'REFRESH_TOKEN_AUTH' }).resolves({
        AuthenticationResult: { AccessToken: fakeJwt('other-sub', 'second'), ExpiresIn: 100 },
      });
      const { provider } = createProvider(() => now);

      // Act
      await provider.getToken();
      now = 100_000;
      await provider.getToken();

      // Assert
      const refresh = cognitoMock
        .commandCalls(InitiateAuthCommand)
        .find((call) => call.args[0].input.AuthFlow === 'REFRESH_TOKEN_AUTH');
      expect(refresh?.args[0].input.AuthParameters?.SECRET_HASH).toBe(
        'z41MVy5VDY1aR5vzDkgn7TUxlowePeaZdhg5hlX1ras=',
      );
    });

    it('falls back to the password when the refresh fails', async () => {
      // Arrange
      let now = 0;
      cognitoMock
        .on(InitiateAuthCommand, { AuthFlow: 'USER_PASSWORD_AUTH' })
        .resolvesOnce({
          AuthenticationResult: {
            AccessToken: fakeJwt(SUBJECT, 'first'),
            RefreshToken: 'refresh-1',
            ExpiresIn: 100,
          },
        })
        .resolves({
          AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'relogin'), ExpiresIn: 100 },
        });
      cognitoMock
        .on(InitiateAuthCommand, { AuthFlow: 'REFRESH_TOKEN_AUTH' })
        .rejects(notAuthorized());
      const { provider } = createProvider(() => now);

      // Act
      await provider.getToken();
      now = 100_000;
      const token = await provider.getToken();

      // Assert
      expect(token).toBe(fakeJwt(SUBJECT, 'relogin'));
      expect(provider.stats).toEqual({ logins: 2, refreshes: 1 });
    });

    it('raises a named error for a challenge', async () => {
      // Arrange
      cognitoMock.on(InitiateAuthCommand).resolves({
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: 'session-value',
      });
      const { provider } = createProvider();

      // Act
      const token = provider.getToken();

      // Assert
      await expect(token).rejects.toThrow(AuthChallengeError);
      await expect(provider.getToken()).rejects.toMatchObject({
        challengeName: 'NEW_PASSWORD_REQUIRED',
        retryable: false,
      });
    });

    it('reads the secret again after a rejected password', async () => {
      // Arrange
      const rotated = { ...CREDENTIALS, password: 'rotated-password' };
      secretsMock
        .on(GetSecretValueCommand)
        .resolvesOnce({ SecretString: JSON.stringify(CREDENTIALS) })
        .resolves({ SecretString: JSON.stringify(rotated) });
      cognitoMock
        .on(InitiateAuthCommand, { AuthParameters: { PASSWORD: 'pa55-word-value' } }, false)
        .rejects(notAuthorized());
      cognitoMock
        .on(InitiateAuthCommand, { AuthParameters: { PASSWORD: 'rotated-password' } }, false)
        .resolves({ AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'r'), ExpiresIn: 60 } });
      const { provider } = createProvider();

      // Act
      const token = await provider.getToken();

      // Assert
      expect(token).toBe(fakeJwt(SUBJECT, 'r'));
      expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    });

    it('fails after a second rejected password', async () => {
      // Arrange
      cognitoMock.on(InitiateAuthCommand).rejects(notAuthorized());
      const { provider } = createProvider();

      // Act
      const token = provider.getToken();

      // Assert
      await expect(token).rejects.toThrow(AuthenticationError);
      await expect(token).rejects.toThrow(
        'Cognito USER_PASSWORD_AUTH failed (NotAuthorizedException): check the username, password and client secret in the secret.',
      );
      expect(cognitoMock).toHaveReceivedCommandTimes(InitiateAuthCommand, 2);
    });

    it('renews a token marked as rejected', async () => {
      // Arrange
      cognitoMock
        .on(InitiateAuthCommand)
        .resolvesOnce({
          AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'a'), ExpiresIn: 3600 },
        })
        .resolves({
          AuthenticationResult: { AccessToken: fakeJwt(SUBJECT, 'b'), ExpiresIn: 3600 },
        });
      const { provider } = createProvider();

      // Act
      const first = await provider.getToken();
      provider.invalidate(first);
      const second = await provider.getToken();

      // Assert
      expect(second).toBe(fakeJwt(SUBJECT, 'b'));
    });
  });
});
