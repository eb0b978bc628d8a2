import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';

/** Lambda handler for SQS events that reports partial batch failures. */
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/** Outcome of one handler invocation, passed to {@link PollerOptions.onBatch}. */
export interface BatchResult {
  event: SQSEvent;
  /** Handler response, absent when the handler threw or timed out. */
  response?: SQSBatchResponse;
  /** Error thrown by the handler, or the timeout error. */
  error?: unknown;
  /** Message ids deleted from the queue. */
  deletedMessageIds: string[];
  /** Message ids left in the queue for another receive. */
  retriedMessageIds: string[];
}

/** Options for {@link startPoller}. */
export interface PollerOptions {
  sqs: SQSClient;
  queueUrl: string;
  /** ARN of the queue, written to `eventSourceARN`. Default: read with GetQueueAttributes. */
  queueArn?: string;
  handler: SqsBatchHandler;
  /** Maximum messages per handler invocation, from 1 to 10. Default: 10. */
  batchSize?: number;
  /** Long-poll wait of each ReceiveMessage, in seconds, from 0 to 20. Default: 1. */
  waitTimeSecs?: number;
  /** Visibility timeout of the received messages, in seconds. Default: the queue's own setting. */
  visibilityTimeoutSecs?: number;
  /**
   * Visibility timeout, in seconds, given to failed messages so they come back after this delay.
   * Lambda leaves failed messages invisible until the queue's visibility timeout ends, which is
   * what an explicit `undefined` does. Default: 0, so tests see the retries and the move to the dead-letter
   * queue without waiting for the visibility timeout.
   */
  retryDelaySecs?: number;
  /** Time the handler may run before the invocation counts as timed out, in ms. Default: 60000. */
  timeoutMs?: number;
  /** Function name in the Lambda context. Default: `stac-ingest-local`. */
  functionName?: string;
  /** Called after each handler invocation and the deletes that follow it. */
  onBatch?: (result: BatchResult) => void;
  /** Receives one line per batch, retry and error. Default: lines are dropped. */
  log?: (message: string) => void;
}

/** A running poller. */
export interface Poller {
  /**
   * Stops polling. Resolves after the ReceiveMessage in flight has returned and the batch it
   * received has been handled, deleted or released.
   */
  stop(): Promise<void>;
  /**
   * Resolves when a ReceiveMessage that started after this call returned no message, no batch is
   * running, and the queue reports no message in flight or delayed. Rejects when the poller stops
   * first.
   */
  idle(): Promise<void>;
}

const RECEIVE_ERROR_BACKOFF_MS = 1000;

/**
 * Starts polling an SQS queue and invokes the handler with each batch, as a Lambda SQS event
 * source mapping with ReportBatchItemFailures does. Messages listed in `batchItemFailures` stay in
 * the queue and the others are deleted. When the handler throws or times out, no message is
 * deleted. Batches run one at a time.
 */
export async function startPoller(options: PollerOptions): Promise<Poller> {
  const log = options.log ?? (() => {});
  requireIntegerInRange('batchSize', options.batchSize, 1, 10);
  requireIntegerInRange('waitTimeSecs', options.waitTimeSecs, 0, 20);
  const queueArn = options.queueArn ?? (await readQueueArn(options.sqs, options.queueUrl));
  const settings: LoopSettings = {
    ...options,
    queueArn,
    region: queueArn.split(':')[3],
    accountId: queueArn.split(':')[4],
    batchSize: options.batchSize ?? 10,
    waitTimeSecs: options.waitTimeSecs ?? 1,
    retryDelaySecs: 'retryDelaySecs' in options ? options.retryDelaySecs : 0,
    timeoutMs: options.timeoutMs ?? 60000,
    functionName: options.functionName ?? 'stac-ingest-local',
    log,
  };

  const state: LoopState = { stopping: false, receivesStarted: 0, idleWaiters: [] };
  const loop = runLoop(settings, state).catch((error: unknown) => {
    log(`Poller for ${options.queueUrl} failed: ${describeError(error)}`);
  });
  log(`Polling ${options.queueUrl} with batch size ${settings.batchSize}`);

  return {
    async stop() {
      state.stopping = true;
      await loop;
      for (const waiter of state.idleWaiters.splice(0)) {
        waiter.reject(
          new Error(`Poller for ${options.queueUrl} stopped before the queue was idle`),
        );
      }
      log(`Stopped polling ${options.queueUrl}`);
    },
    idle() {
      if (state.stopping) {
        return Promise.reject(new Error(`Poller for ${options.queueUrl} is stopped`));
      }
      return new Promise((resolve, reject) => {
        state.idleWaiters.push({ afterReceive: state.receivesStarted, resolve, reject });
      });
    },
  };
}

interface LoopSettings extends PollerOptions {
  queueArn: string;
  region: string;
  accountId: string;
  batchSize: number;
  waitTimeSecs: number;
  timeoutMs: number;
  functionName: string;
  log: (message: string) => void;
}

interface IdleWaiter {
  /** Number of receives started when idle() was called. Only a later receive counts. */
  afterReceive: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface LoopState {
  stopping: boolean;
  receivesStarted: number;
  idleWaiters: IdleWaiter[];
}

async function runLoop(settings: LoopSettings, state: LoopState): Promise<void> {
  let consecutiveErrors = 0;
  while (!state.stopping) {
    state.receivesStarted += 1;
    const receiveNumber = state.receivesStarted;
    let messages: Message[];
    try {
      const received = await settings.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: settings.queueUrl,
          MaxNumberOfMessages: settings.batchSize,
          WaitTimeSeconds: settings.waitTimeSecs,
          VisibilityTimeout: settings.visibilityTimeoutSecs,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      messages = received.Messages ?? [];
      consecutiveErrors = 0;
    } catch (error) {
      consecutiveErrors += 1;
      // Logs the first failure and then every tenth, so a stopped emulator does not flood the log.
      if (consecutiveErrors === 1 || consecutiveErrors % 10 === 0) {
        settings.log(
          `ReceiveMessage from ${settings.queueUrl} failed ${consecutiveErrors} time(s) in a row, retrying in ${RECEIVE_ERROR_BACKOFF_MS} ms: ${describeError(error)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, RECEIVE_ERROR_BACKOFF_MS));
      continue;
    }

    try {
      if (messages.length > 0) {
        await handleBatch(settings, messages);
      } else if (state.idleWaiters.length > 0 && (await queueIsEmpty(settings))) {
        resolveIdleWaiters(state, receiveNumber);
      }
    } catch (error) {
      // Messages that were neither deleted nor released come back after the visibility timeout.
      settings.log(
        `Processing a receive from ${settings.queueUrl} failed: ${describeError(error)}`,
      );
    }
  }
}

function resolveIdleWaiters(state: LoopState, receiveNumber: number): void {
  const waiting: IdleWaiter[] = [];
  for (const waiter of state.idleWaiters) {
    if (receiveNumber > waiter.afterReceive) {
      waiter.resolve();
    } else {
      waiting.push(waiter);
    }
  }
  state.idleWaiters = waiting;
}

async function queueIsEmpty(settings: LoopSettings): Promise<boolean> {
  const attributes = await settings.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: settings.queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const counts = Object.values(attributes.Attributes ?? {});
  return counts.every((count) => Number(count) === 0);
}

async function handleBatch(settings: LoopSettings, messages: Message[]): Promise<void> {
  const event: SQSEvent = { Records: messages.map((message) => toRecord(settings, message)) };
  const context = createContext(settings);
  const messageIds = event.Records.map((record) => record.messageId);
  settings.log(
    `Invoking ${settings.functionName} (${context.awsRequestId}) with ${messageIds.length} message(s): ${messageIds.join(', ')}`,
  );

  let response: SQSBatchResponse | undefined;
  let error: unknown;
  try {
    response = await invokeWithTimeout(settings.handler(event, context), settings.timeoutMs);
  } catch (caught) {
    error = caught;
  }

  let failedIds: Set<string>;
  if (error !== undefined) {
    settings.log(
      `Handler failed for request ${context.awsRequestId}, so every message of the batch is retried: ${describeError(error)}`,
    );
    failedIds = new Set(messageIds);
  } else {
    failedIds = failedMessageIds(settings, response, messageIds);
  }

  const deleted = event.Records.filter((record) => !failedIds.has(record.messageId));
  const retried = event.Records.filter((record) => failedIds.has(record.messageId));
  await deleteMessages(settings, deleted);
  await releaseMessages(settings, retried);
  if (retried.length > 0) {
    settings.log(
      `Left ${retried.length} failed message(s) in the queue: ${retried.map((record) => record.messageId).join(', ')}`,
    );
  }

  settings.onBatch?.({
    event,
    ...(response === undefined ? {} : { response }),
    ...(error === undefined ? {} : { error }),
    deletedMessageIds: deleted.map((record) => record.messageId),
    retriedMessageIds: retried.map((record) => record.messageId),
  });
}

/**
 * Returns the ids of the messages to retry. A response whose `batchItemFailures` is not an array,
 * or names an id that is empty or not in the batch, fails the whole batch, so a handler bug
 * retries messages instead of deleting them. A missing response or list means full success.
 */
function failedMessageIds(
  settings: LoopSettings,
  response: SQSBatchResponse | undefined,
  messageIds: string[],
): Set<string> {
  const failures: unknown = response?.batchItemFailures;
  if (failures === undefined || failures === null) {
    return new Set();
  }

  const batchIds = new Set(messageIds);
  if (!Array.isArray(failures)) {
    settings.log(
      `Handler returned batchItemFailures that is not an array, so every message of the batch is retried: ${JSON.stringify(failures)}`,
    );
    return batchIds;
  }
  const failedIds = new Set<string>();
  for (const failure of failures) {
    const itemIdentifier: unknown = failure?.itemIdentifier;
    if (typeof itemIdentifier !== 'string' || !batchIds.has(itemIdentifier)) {
      settings.log(
        `Handler returned an invalid itemIdentifier, so every message of the batch is retried: ${JSON.stringify(failure)}`,
      );
      return batchIds;
    }
    failedIds.add(itemIdentifier);
  }
  return failedIds;
}

function invokeWithTimeout<T>(invocation: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      // NOTE: unlike Lambda, the poller cannot stop the handler, which keeps running after this.
      reject(new Error(`Handler timed out after ${timeoutMs} ms`));
    }, timeoutMs);
  });
  return Promise.race([invocation, timeout]).finally(() => clearTimeout(timer));
}

/** Builds a record with the fields and names that Lambda uses for SQS events. */
function toRecord(settings: LoopSettings, message: Message): SQSRecord {
  const record: SQSRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: (message.Attributes ?? {}) as unknown as SQSRecordAttributes,
    messageAttributes: toMessageAttributes(message.MessageAttributes),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: settings.queueArn,
    awsRegion: settings.region,
  };
  if (message.MD5OfMessageAttributes !== undefined) {
    record.md5OfMessageAttributes = message.MD5OfMessageAttributes;
  }
  return record;
}

/** Converts SDK attribute values to the camel-case shape of Lambda events, with binary as base64. */
function toMessageAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const converted: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    converted[name] = {
      ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
      ...(value.BinaryValue === undefined
        ? {}
        : { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((item) =>
        Buffer.from(item).toString('base64'),
      ),
      dataType: value.DataType ?? 'String',
    };
  }
  return converted;
}

function createContext(settings: LoopSettings): Context {
  const deadline = Date.now() + settings.timeoutMs;
  const functionName = settings.functionName;
  const unsupported = (name: string) => () => {
    throw new Error(`context.${name} is not supported: return a value from the async handler`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${settings.region}:${settings.accountId}:function:${functionName}`,
    memoryLimitInMB: '128',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: unsupported('done'),
    fail: unsupported('fail'),
    succeed: unsupported('succeed'),
  };
}

async function deleteMessages(settings: LoopSettings, records: SQSRecord[]): Promise<void> {
  if (records.length === 0) {
    return;
  }
  const result = await settings.sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: settings.queueUrl,
      Entries: records.map((record, index) => ({
        Id: String(index),
        ReceiptHandle: record.receiptHandle,
      })),
    }),
  );
  for (const failure of result.Failed ?? []) {
    const record = records[Number(failure.Id)];
    settings.log(
      `DeleteMessage failed for message ${record.messageId}: ${failure.Code} ${failure.Message ?? ''}`,
    );
  }
}

/** Sets the retry delay as visibility timeout of the failed messages, unless it is undefined. */
async function releaseMessages(settings: LoopSettings, records: SQSRecord[]): Promise<void> {
  if (records.length === 0 || settings.retryDelaySecs === undefined) {
    return;
  }
  const result = await settings.sqs.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl: settings.queueUrl,
      Entries: records.map((record, index) => ({
        Id: String(index),
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: settings.retryDelaySecs,
      })),
    }),
  );
  for (const failure of result.Failed ?? []) {
    const record = records[Number(failure.Id)];
    settings.log(
      `ChangeMessageVisibility failed for message ${record.messageId}: ${failure.Code} ${failure.Message ?? ''}`,
    );
  }
}

async function readQueueArn(sqs: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const queueArn = attributes.Attributes?.QueueArn;
  if (queueArn === undefined) {
    throw new Error(`GetQueueAttributes returned no QueueArn for ${queueUrl}`);
  }
  return queueArn;
}

/** Throws when a set option is not an integer from `min` to `max`, the range SQS accepts. */
function requireIntegerInRange(
  name: string,
  value: number | undefined,
  min: number,
  max: number,
): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max)) {
    throw new RangeError(`Invalid ${name} ${value}: expected an integer from ${min} to ${max}`);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    return `${error.name}: ${error.message}`;
  }
  return String(error);
}
