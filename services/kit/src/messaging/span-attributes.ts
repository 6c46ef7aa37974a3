// The OpenTelemetry messaging attributes of the kit's RabbitMQ spans, in one place: a
// PRODUCER span when the publisher sends, a CONSUMER span when a consumer processes.
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY,
  ATTR_MESSAGING_SYSTEM,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_SYSTEM_VALUE_RABBITMQ,
} from '@opentelemetry/semantic-conventions/incubating';

export interface MessageSpan {
  operation: 'publish' | 'process';
  exchange: string;
  routingKey: string;
  messageId?: string;
  /** The consumer's name (process only). */
  consumerGroup?: string;
}

export function messagingAttributes(m: MessageSpan): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_RABBITMQ,
    [ATTR_MESSAGING_OPERATION_TYPE]:
      m.operation === 'publish'
        ? MESSAGING_OPERATION_TYPE_VALUE_SEND
        : MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
    [ATTR_MESSAGING_OPERATION_NAME]: m.operation,
    [ATTR_MESSAGING_DESTINATION_NAME]: m.exchange,
    [ATTR_MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY]: m.routingKey,
    ...(m.consumerGroup !== undefined
      ? { [ATTR_MESSAGING_CONSUMER_GROUP_NAME]: m.consumerGroup }
      : {}),
    ...(m.messageId !== undefined ? { [ATTR_MESSAGING_MESSAGE_ID]: m.messageId } : {}),
  };
}
