import { randomBytes } from 'node:crypto';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  CognitoIdentityProviderClient,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  DeleteUserPoolClientCommand,
  DescribeUserPoolClientCommand,
  type ExplicitAuthFlowsType,
  ListUserPoolClientsCommand,
  ListUserPoolsCommand,
  UpdateUserPoolClientCommand,
  UserNotFoundException,
} from '@aws-sdk/client-cognito-identity-provider';
import {
  BucketAlreadyOwnedByYou,
  type BucketLocationConstraint,
  CreateBucketCommand,
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';

/** Static AWS credentials. Emulators accept any value. */
export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** SDK clients configured for an emulator endpoint. Call `destroy()` on each when done. */
export interface LocalAwsClients {
  s3: S3Client;
  sqs: SQSClient;
  secrets: SecretsManagerClient;
  cognito: CognitoIdentityProviderClient;
}

/**
 * JSON content of the service user secret. The ingest Lambda reads it to log in to Cognito with
 * InitiateAuth USER_PASSWORD_AUTH.
 */
export interface ServiceUserSecret {
  username: string;
  password: string;
  clientId: string;
  /** App client secret, present only when the app client has one. It keys the SECRET_HASH. */
  clientSecret?: string;
  userPoolId: string;
  region: string;
}

/** Options for {@link createLocalAws}. */
export interface LocalAwsOptions {
  /** AWS region of every resource. Default: `eu-central-1`. */
  region?: string;
  /** Credentials for the SDK clients. Default: `testing` / `testing`. */
  credentials?: LocalCredentials;
  /** S3 bucket that receives the dropped files. Default: `stac-ingest-local`. */
  bucket?: string;
  /** SQS queue that receives the bucket notifications. Default: `stac-ingest-local`. */
  queueName?: string;
  /** Dead-letter queue of `queueName`. Default: `<queueName>-dlq`. */
  deadLetterQueueName?: string;
  /** Receives of one message before SQS moves it to the dead-letter queue. Default: 3. */
  maxReceiveCount?: number;
  /** Visibility timeout of the queue, in seconds. Default: 30. */
  visibilityTimeoutSecs?: number;
  /** Cognito user pool name. Default: `stac-ingest-local`. */
  userPoolName?: string;
  /** Cognito app client name. Default: `stac-ingest-local`. */
  appClientName?: string;
  /**
   * Whether the app client has a client secret, so logins need a SECRET_HASH. Default: false.
   * NOTE: moto 5.2.1 also accepts a login without SECRET_HASH to a client that has a secret.
   */
  clientSecret?: boolean;
  /** Cognito user name of the service user. Default: `stac-ingest-service`. */
  username?: string;
  /** Permanent password of the service user. Default: a new random password on each call. */
  password?: string;
  /** Secrets Manager secret name. Default: `stac-ingest/local/service-user`. */
  secretId?: string;
  /**
   * Whether to delete the `s3:TestEvent` message that S3 sends when the bucket notification is
   * configured. Default: true.
   */
  drainTestEvent?: boolean;
  /** Receives one line per resource created or updated. Default: lines are dropped. */
  log?: (message: string) => void;
}

/** Local AWS resources created by {@link createLocalAws}. */
export interface LocalAws {
  /** Endpoint of the emulator that serves every service. */
  endpoint: string;
  region: string;
  /** Same as `endpoint`. The S3 clients must use path-style URLs on it. */
  s3Endpoint: string;
  bucket: string;
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
  /** Secret name, usable as SecretId. */
  secretId: string;
  secretArn: string;
  userPoolId: string;
  clientId: string;
  username: string;
  /** JSON Web Key Set of the user pool, served by moto at `<endpoint>/<userPoolId>/.well-known/jwks.json`. */
  jwksUrl: string;
  /**
   * `iss` claim of the tokens that moto issues. moto 5.2.1 writes the real AWS issuer
   * `https://cognito-idp.<region>.amazonaws.com/<userPoolId>`, not the endpoint.
   */
  tokenIssuer: string;
  credentials: LocalCredentials;
  /** Creates new SDK clients for the emulator. The caller destroys them. */
  clients(): LocalAwsClients;
}

/** Settings for {@link createLocalClients}. */
export interface LocalClientSettings {
  endpoint: string;
  region: string;
  credentials: LocalCredentials;
}

const DEFAULT_CREDENTIALS: LocalCredentials = {
  accessKeyId: 'testing',
  secretAccessKey: 'testing',
};
const NOTIFICATION_ID = 'stac-ingest-object-created';
const MAX_DRAIN_RECEIVES = 10;
const OBJECT_CREATED_EVENT = 's3:ObjectCreated:*';
const EXPLICIT_AUTH_FLOWS: ExplicitAuthFlowsType[] = [
  'ALLOW_USER_PASSWORD_AUTH',
  'ALLOW_REFRESH_TOKEN_AUTH',
];

/**
 * Creates SDK clients for an emulator endpoint. Checksums are computed and validated only when
 * an operation requires them, so requests carry no flexible checksum headers that an emulator
 * might not support.
 */
export function createLocalClients(settings: LocalClientSettings): LocalAwsClients {
  const config = {
    endpoint: settings.endpoint,
    region: settings.region,
    // The SDK adds fields to the credentials object it is given, so each client gets a copy.
    credentials: { ...settings.credentials },
    requestChecksumCalculation: 'WHEN_REQUIRED' as const,
    responseChecksumValidation: 'WHEN_REQUIRED' as const,
  };
  return {
    s3: new S3Client({ ...config, forcePathStyle: true }),
    sqs: new SQSClient(config),
    secrets: new SecretsManagerClient(config),
    cognito: new CognitoIdentityProviderClient(config),
  };
}

/**
 * Creates the AWS resources of the ingest pipeline on an emulator such as moto_server. These are
 * the bucket, the queue with its dead-letter queue and redrive policy, and the bucket
 * notification. They also include the Cognito user pool, app client and service user, and the
 * secret with the user's credentials.
 *
 * Calling it again with the same options reuses the existing resources and updates their
 * settings. The app client is deleted and created again when its client secret setting changes,
 * so its id changes then. Each call sets the user's password and the secret value again.
 */
export async function createLocalAws(
  endpoint: string,
  options: LocalAwsOptions = {},
): Promise<LocalAws> {
  const region = options.region ?? 'eu-central-1';
  const credentials = options.credentials ?? DEFAULT_CREDENTIALS;
  const bucket = options.bucket ?? 'stac-ingest-local';
  const queueName = options.queueName ?? 'stac-ingest-local';
  const username = options.username ?? 'stac-ingest-service';
  const password = options.password ?? generatePassword();
  const secretId = options.secretId ?? 'stac-ingest/local/service-user';
  const log = options.log ?? (() => {});

  const clients = createLocalClients({ endpoint, region, credentials });
  try {
    await createBucket(clients.s3, bucket, region, log);
    const queues = await createQueues(clients.sqs, {
      bucket,
      queueName,
      deadLetterQueueName: options.deadLetterQueueName ?? `${queueName}-dlq`,
      maxReceiveCount: options.maxReceiveCount ?? 3,
      visibilityTimeoutSecs: options.visibilityTimeoutSecs ?? 30,
    });
    log(`Queue ${queues.queueUrl} has dead-letter queue ${queues.deadLetterQueueUrl}`);

    const configured = await configureNotification(clients.s3, bucket, queues.queueArn);
    if (configured) {
      log(`Bucket ${bucket} now notifies ${queues.queueArn} of ${OBJECT_CREATED_EVENT}`);
      if (options.drainTestEvent ?? true) {
        await drainTestEvent(clients.sqs, queues.queueUrl);
      }
    }

    const userPoolId = await findOrCreateUserPool(
      clients.cognito,
      options.userPoolName ?? 'stac-ingest-local',
    );
    const appClient = await findOrCreateAppClient(clients.cognito, {
      userPoolId,
      clientName: options.appClientName ?? 'stac-ingest-local',
      withSecret: options.clientSecret ?? false,
    });
    await createServiceUser(clients.cognito, userPoolId, username, password);
    log(`User pool ${userPoolId} has app client ${appClient.clientId} and user ${username}`);

    const secret: ServiceUserSecret = {
      username,
      password,
      clientId: appClient.clientId,
      ...(appClient.clientSecret === undefined ? {} : { clientSecret: appClient.clientSecret }),
      userPoolId,
      region,
    };
    const secretArn = await putSecret(clients.secrets, secretId, JSON.stringify(secret));
    log(`Secret ${secretId} contains the service user credentials`);

    return {
      endpoint,
      region,
      s3Endpoint: endpoint,
      bucket,
      ...queues,
      secretId,
      secretArn,
      userPoolId,
      clientId: appClient.clientId,
      username,
      jwksUrl: `${endpoint}/${userPoolId}/.well-known/jwks.json`,
      tokenIssuer: `https://cognito-idp.${region}.amazonaws.com/${userPoolId}`,
      credentials: { ...credentials },
      clients: () => createLocalClients({ endpoint, region, credentials }),
    };
  } finally {
    destroyClients(clients);
  }
}

/** Destroys every client of a {@link LocalAwsClients} set. */
export function destroyClients(clients: LocalAwsClients): void {
  clients.s3.destroy();
  clients.sqs.destroy();
  clients.secrets.destroy();
  clients.cognito.destroy();
}

/**
 * Creates a password that meets the default Cognito password policy: at least 8 characters
 * with lower case, upper case, digit and symbol.
 */
function generatePassword(): string {
  return `Local-1a${randomBytes(12).toString('base64url')}`;
}

async function createBucket(
  s3: S3Client,
  bucket: string,
  region: string,
  log: (message: string) => void,
): Promise<void> {
  try {
    await s3.send(
      new CreateBucketCommand({
        Bucket: bucket,
        // S3 rejects a LocationConstraint of us-east-1, its default region.
        ...(region === 'us-east-1'
          ? {}
          : {
              CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint },
            }),
      }),
    );
    log(`Created bucket ${bucket}`);
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) {
      throw error;
    }
  }
}

interface QueueSettings {
  bucket: string;
  queueName: string;
  deadLetterQueueName: string;
  maxReceiveCount: number;
  visibilityTimeoutSecs: number;
}

interface Queues {
  queueUrl: string;
  queueArn: string;
  deadLetterQueueUrl: string;
  deadLetterQueueArn: string;
}

/**
 * Creates both queues without attributes, then sets the attributes. CreateQueue on an existing
 * queue fails with QueueNameExists when the attributes differ, so this order makes reruns with
 * changed options update the queue.
 */
async function createQueues(sqs: SQSClient, settings: QueueSettings): Promise<Queues> {
  const deadLetterQueueUrl = await createQueue(sqs, settings.deadLetterQueueName);
  const deadLetterQueueArn = await getQueueArn(sqs, deadLetterQueueUrl);
  const queueUrl = await createQueue(sqs, settings.queueName);
  const queueArn = await getQueueArn(sqs, queueUrl);

  await sqs.send(
    new SetQueueAttributesCommand({
      QueueUrl: queueUrl,
      Attributes: {
        VisibilityTimeout: String(settings.visibilityTimeoutSecs),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: deadLetterQueueArn,
          maxReceiveCount: settings.maxReceiveCount,
        }),
        Policy: JSON.stringify(s3SendMessagePolicy(queueArn, settings.bucket)),
      },
    }),
  );
  return { queueUrl, queueArn, deadLetterQueueUrl, deadLetterQueueArn };
}

async function createQueue(sqs: SQSClient, queueName: string): Promise<string> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
  if (created.QueueUrl === undefined) {
    throw new Error(`CreateQueue returned no QueueUrl for queue ${queueName}`);
  }
  return created.QueueUrl;
}

async function getQueueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queueArn = attributes.Attributes?.QueueArn;
  if (queueArn === undefined) {
    throw new Error(`GetQueueAttributes returned no QueueArn for ${queueUrl}`);
  }
  return queueArn;
}

/**
 * Builds the queue policy that lets S3 send the notifications of one bucket. moto 5.2.1 does not
 * enforce it, but AWS drops the notifications without it.
 */
function s3SendMessagePolicy(queueArn: string, bucket: string): object {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AllowS3BucketNotifications',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:s3:::${bucket}` } },
      },
    ],
  };
}

/**
 * Points the bucket notification for created objects at the queue, unless it already does.
 * Returns whether it changed the configuration. The new configuration replaces every other
 * notification of the bucket.
 */
async function configureNotification(
  s3: S3Client,
  bucket: string,
  queueArn: string,
): Promise<boolean> {
  const current = await s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  const queueConfigurations = current.QueueConfigurations ?? [];
  const alreadyConfigured =
    queueConfigurations.length === 1 &&
    queueConfigurations[0].QueueArn === queueArn &&
    queueConfigurations[0].Events?.length === 1 &&
    queueConfigurations[0].Events[0] === OBJECT_CREATED_EVENT &&
    current.TopicConfigurations === undefined &&
    current.LambdaFunctionConfigurations === undefined;
  if (alreadyConfigured) {
    return false;
  }

  await s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: [
          { Id: NOTIFICATION_ID, QueueArn: queueArn, Events: [OBJECT_CREATED_EVENT] },
        ],
      },
    }),
  );
  return true;
}

/**
 * Deletes the `s3:TestEvent` message from the queue. S3 sends one each time the notification
 * configuration is put, with the body `{"Service":"Amazon S3","Event":"s3:TestEvent",...}` and no
 * `Records`. moto 5.2.1 sends it before PutBucketNotificationConfiguration returns, so this stops
 * at the first empty receive. Other messages received here are made visible again at once, but
 * their ApproximateReceiveCount grows by one.
 */
async function drainTestEvent(sqs: SQSClient, queueUrl: string): Promise<void> {
  // Released messages can come back in the next receive, so the number of receives is bounded.
  for (let attempt = 0; attempt < MAX_DRAIN_RECEIVES; attempt++) {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const messages = received.Messages ?? [];
    let foundTestEvent = false;
    for (const message of messages) {
      if (isTestEvent(message.Body)) {
        foundTestEvent = true;
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
        );
      } else {
        await sqs.send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: queueUrl,
            ReceiptHandle: message.ReceiptHandle,
            VisibilityTimeout: 0,
          }),
        );
      }
    }
    if (foundTestEvent || messages.length === 0) {
      return;
    }
  }
  throw new Error(
    `s3:TestEvent not found in ${MAX_DRAIN_RECEIVES} receives from ${queueUrl}: set drainTestEvent to false to leave the queue as it is`,
  );
}

function isTestEvent(body: string | undefined): boolean {
  try {
    return JSON.parse(body ?? '').Event === 's3:TestEvent';
  } catch {
    return false;
  }
}

async function findOrCreateUserPool(
  cognito: CognitoIdentityProviderClient,
  poolName: string,
): Promise<string> {
  let nextToken: string | undefined;
  do {
    const page = await cognito.send(
      new ListUserPoolsCommand({ MaxResults: 60, NextToken: nextToken }),
    );
    const existing = page.UserPools?.find((pool) => pool.Name === poolName);
    if (existing?.Id !== undefined) {
      return existing.Id;
    }
    nextToken = page.NextToken;
  } while (nextToken !== undefined);

  const created = await cognito.send(new CreateUserPoolCommand({ PoolName: poolName }));
  const userPoolId = created.UserPool?.Id;
  if (userPoolId === undefined) {
    throw new Error(`CreateUserPool returned no Id for pool ${poolName}`);
  }
  return userPoolId;
}

interface AppClientSettings {
  userPoolId: string;
  clientName: string;
  withSecret: boolean;
}

interface AppClient {
  clientId: string;
  clientSecret?: string;
}

/**
 * Finds the app client by name and updates its auth flows, or creates it. The client secret
 * setting of an app client cannot change, so a client whose setting differs is replaced.
 */
async function findOrCreateAppClient(
  cognito: CognitoIdentityProviderClient,
  settings: AppClientSettings,
): Promise<AppClient> {
  const { userPoolId, clientName, withSecret } = settings;
  const existingId = await findAppClientId(cognito, userPoolId, clientName);
  if (existingId !== undefined) {
    const described = await cognito.send(
      new DescribeUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: existingId }),
    );
    const clientSecret = described.UserPoolClient?.ClientSecret;
    if ((clientSecret !== undefined) === withSecret) {
      await cognito.send(
        new UpdateUserPoolClientCommand({
          UserPoolId: userPoolId,
          ClientId: existingId,
          ClientName: clientName,
          ExplicitAuthFlows: EXPLICIT_AUTH_FLOWS,
        }),
      );
      return { clientId: existingId, ...(clientSecret === undefined ? {} : { clientSecret }) };
    }
    await cognito.send(
      new DeleteUserPoolClientCommand({ UserPoolId: userPoolId, ClientId: existingId }),
    );
  }

  const created = await cognito.send(
    new CreateUserPoolClientCommand({
      UserPoolId: userPoolId,
      ClientName: clientName,
      GenerateSecret: withSecret,
      ExplicitAuthFlows: EXPLICIT_AUTH_FLOWS,
    }),
  );
  const clientId = created.UserPoolClient?.ClientId;
  if (clientId === undefined) {
    throw new Error(`CreateUserPoolClient returned no ClientId for client ${clientName}`);
  }
  const clientSecret = created.UserPoolClient?.ClientSecret;
  return { clientId, ...(clientSecret === undefined ? {} : { clientSecret }) };
}

async function findAppClientId(
  cognito: CognitoIdentityProviderClient,
  userPoolId: string,
  clientName: string,
): Promise<string | undefined> {
  let nextToken: string | undefined;
  do {
    const page = await cognito.send(
      new ListUserPoolClientsCommand({
        UserPoolId: userPoolId,
        MaxResults: 60,
        NextToken: nextToken,
      }),
    );
    const existing = page.UserPoolClients?.find((client) => client.ClientName === clientName);
    if (existing?.ClientId !== undefined) {
      return existing.ClientId;
    }
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return undefined;
}

/** Creates the user unless it exists, then sets its password as permanent. */
async function createServiceUser(
  cognito: CognitoIdentityProviderClient,
  userPoolId: string,
  username: string,
  password: string,
): Promise<void> {
  try {
    await cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: username }));
  } catch (error) {
    if (!(error instanceof UserNotFoundException)) {
      throw error;
    }
    // SUPPRESS sends no invitation message, because the service user has no email address.
    await cognito.send(
      new AdminCreateUserCommand({
        UserPoolId: userPoolId,
        Username: username,
        TemporaryPassword: password,
        MessageAction: 'SUPPRESS',
      }),
    );
  }
  // A permanent password moves the user out of FORCE_CHANGE_PASSWORD, so USER_PASSWORD_AUTH
  // returns tokens instead of a NEW_PASSWORD_REQUIRED challenge.
  await cognito.send(
    new AdminSetUserPasswordCommand({
      UserPoolId: userPoolId,
      Username: username,
      Password: password,
      Permanent: true,
    }),
  );
}

/** Creates the secret, or stores a new value when it exists. Returns the secret ARN. */
async function putSecret(
  secrets: SecretsManagerClient,
  secretId: string,
  secretString: string,
): Promise<string> {
  try {
    const created = await secrets.send(
      new CreateSecretCommand({ Name: secretId, SecretString: secretString }),
    );
    return requireArn(created.ARN, secretId);
  } catch (error) {
    if (!(error instanceof ResourceExistsException)) {
      throw error;
    }
  }
  const updated = await secrets.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: secretString }),
  );
  return requireArn(updated.ARN, secretId);
}

function requireArn(arn: string | undefined, secretId: string): string {
  if (arn === undefined) {
    throw new Error(`Secrets Manager returned no ARN for secret ${secretId}`);
  }
  return arn;
}
