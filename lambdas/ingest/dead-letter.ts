import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { redactText } from './redact';

/** Maximum length of the error message kept in a message attribute, in characters. */
const MAX_ATTRIBUTE_CHARS = 4096;

/** A message whose every failure is permanent: retrying it cannot succeed. */
export interface PermanentFailure {
  readonly messageId: string;
  /** Key of the object that failed, when the failure concerns one. */
  readonly key?: string;
  readonly error: Error;
}

function stringAttribute(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value.slice(0, MAX_ATTRIBUTE_CHARS) };
}

/**
 * Sends each permanently failed message to the dead-letter queue with its original body and
 * the error as message attributes (`IngestErrorName`, `IngestErrorMessage`, `ObjectKey`,
 * `SourceMessageId`). Returns the ids of the messages that were sent, which the caller
 * reports as done. A message whose send failed stays a batch item failure, so it reaches
 * the dead-letter queue through the redrive policy.
 */
export async function sendToDeadLetterQueue(
  sqs: SQSClient,
  queueUrl: string,
  records: SQSRecord[],
  failures: PermanentFailure[],
  logger: Logger,
): Promise<Set<string>> {
  const sent = new Set<string>();
  const recordsById = new Map(records.map((record) => [record.messageId, record]));
  for (const failure of failures) {
    const record = recordsById.get(failure.messageId);
    if (record === undefined) continue;
    const attributes: Record<string, MessageAttributeValue> = {
      IngestErrorName: stringAttribute(failure.error.name),
      IngestErrorMessage: stringAttribute(redactText(failure.error.message)),
      SourceMessageId: stringAttribute(failure.messageId),
    };
    if (failure.key !== undefined && failure.key !== '') {
      attributes.ObjectKey = stringAttribute(failure.key);
    }
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: record.body,
          MessageAttributes: attributes,
        }),
      );
      sent.add(failure.messageId);
      logger.warn('Message failed permanently and was sent to the dead-letter queue', {
        message_id: failure.messageId,
        key: failure.key,
        error_name: failure.error.name,
      });
    } catch (error) {
      logger.error(
        'Sending the message to the dead-letter queue failed, so it is reported as failed and reaches that queue after its receives',
        { message_id: failure.messageId, key: failure.key, error },
      );
    }
  }
  return sent;
}
