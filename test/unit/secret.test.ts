import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { parseServiceCredentials, SecretError, SecretStore } from '../../lambdas/ingest/secret';

const secretsMock = mockClient(SecretsManagerClient);

const VALID = {
  username: 'ingest-bot',
  password: 'pa55-word-value',
  clientId: 'client123',
  clientSecret: 'client-secret-value',
  region: 'eu-central-1',
};

describe('secret', () => {
  beforeEach(() => {
    secretsMock.reset();
  });

  describe('parseServiceCredentials', () => {
    it('accepts a complete secret', () => {
      // Act
      const credentials = parseServiceCredentials(JSON.stringify(VALID), 'my-secret');

      // Assert
      expect(credentials).toEqual(VALID);
    });

    it('takes the region from the user pool id', () => {
      // Arrange
      const { region: _region, ...withoutRegion } = VALID;
      const secret = { ...withoutRegion, userPoolId: 'eu-west-1_AbC123' };

      // Act
      const credentials = parseServiceCredentials(JSON.stringify(secret), 'my-secret');

      // Assert
      expect(credentials.region).toBe('eu-west-1');
    });

    it('reports every problem at once without values', () => {
      // Arrange
      const secret = { username: '', clientId: 42, userPoolId: 'not-a-pool', clientSecret: 'x' };

      // Act
      const parse = () => parseServiceCredentials(JSON.stringify(secret), 'my-secret');

      // Assert
      expect(parse).toThrow(SecretError);
      expect(parse).toThrow(
        'Secret my-secret is invalid: username must be a non-empty string; password is missing; clientId must be a non-empty string; userPoolId must look like <region>_<id>, for example eu-central-1_AbCdEf123.',
      );
    });

    it('rejects a region that differs from the pool', () => {
      // Arrange
      const secret = { ...VALID, userPoolId: 'eu-west-1_AbC123' };

      // Act
      const parse = () => parseServiceCredentials(JSON.stringify(secret), 'my-secret');

      // Assert
      expect(parse).toThrow('region does not match the region prefix of userPoolId');
    });

    it('rejects text that is not JSON', () => {
      // Act
      const parse = () => parseServiceCredentials('username=bot', 'my-secret');

      // Assert
      expect(parse).toThrow(SecretError);
      expect(parse).toThrow(/not valid JSON/);
    });

    it('never puts a value in the message', () => {
      // Arrange
      const secret = { ...VALID, region: 'Mars-1', clientId: '' };

      // Act
      let message = '';
      try {
        parseServiceCredentials(JSON.stringify(secret), 'my-secret');
      } catch (error) {
        message = (error as Error).message;
      }

      // Assert
      expect(message).toContain('region must be an AWS region name');
      expect(message).not.toContain(VALID.password);
      expect(message).not.toContain(VALID.clientSecret);
      expect(message).not.toContain('Mars-1');
    });
  });

  describe('SecretStore', () => {
    it('reads the secret once within the maximum age', async () => {
      // Arrange
      secretsMock
        .on(GetSecretValueCommand, { SecretId: 'my-secret' })
        .resolves({ SecretString: JSON.stringify(VALID) });
      let now = 1_000_000;
      const store = new SecretStore({
        client: new SecretsManagerClient({}),
        secretId: 'my-secret',
        maxAgeSecs: 60,
        now: () => now,
      });

      // Act
      await store.get();
      now += 59_000;
      await store.get();

      // Assert
      expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
      expect(store.readCount).toBe(1);
    });

    it('reads the secret again after the maximum age', async () => {
      // Arrange
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(VALID) });
      let now = 1_000_000;
      const store = new SecretStore({
        client: new SecretsManagerClient({}),
        secretId: 'my-secret',
        maxAgeSecs: 60,
        now: () => now,
      });

      // Act
      await store.get();
      now += 60_000;
      await store.get();

      // Assert
      expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    });

    it('shares one request between concurrent callers', async () => {
      // Arrange
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(VALID) });
      const store = new SecretStore({
        client: new SecretsManagerClient({}),
        secretId: 'my-secret',
      });

      // Act
      await Promise.all([store.get(), store.get(), store.get()]);

      // Assert
      expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    });

    it('does not cache a failed read', async () => {
      // Arrange
      const notFound = Object.assign(new Error('Secrets Manager cannot find the secret'), {
        name: 'ResourceNotFoundException',
      });
      secretsMock
        .on(GetSecretValueCommand)
        .rejectsOnce(notFound)
        .resolves({ SecretString: JSON.stringify(VALID) });
      const store = new SecretStore({
        client: new SecretsManagerClient({}),
        secretId: 'my-secret',
      });

      // Act
      const first = store.get();

      // Assert
      await expect(first).rejects.toThrow(SecretError);
      await expect(first).rejects.toThrow(
        'Reading secret my-secret failed (ResourceNotFoundException): check that it exists and that the function may read it.',
      );
      await expect(store.get()).resolves.toEqual(VALID);
    });

    it('reads again after invalidate', async () => {
      // Arrange
      secretsMock.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify(VALID) });
      const store = new SecretStore({
        client: new SecretsManagerClient({}),
        secretId: 'my-secret',
      });

      // Act
      await store.get();
      store.invalidate();
      await store.get();

      // Assert
      expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    });

    it('rejects a binary secret', async () => {
      // Arrange
      secretsMock.on(GetSecretValueCommand).resolves({ SecretBinary: new Uint8Array([1, 2]) });
      const store = new SecretStore({
        client: new SecretsManagerClient({}),
        secretId: 'my-secret',
      });

      // Act and assert
      await expect(store.get()).rejects.toThrow(/has no string value/);
    });
  });
});
