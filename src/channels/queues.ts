// The delivery channels' tasks and the queues their jobs wait in (the original Fusion's queue names),
// known before any channel handler is registered.
export const CHANNEL_QUEUES = {
  sms: 'sms',
  email: 'email',
  push: 'pn',
  webhook: 'webhook',
  whatsapp: 'whatsapp',
} as const;

export type ChannelTask = keyof typeof CHANNEL_QUEUES;
export const CHANNEL_TASKS = Object.keys(CHANNEL_QUEUES) as ChannelTask[];
