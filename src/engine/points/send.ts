import { DEFAULT_OUTPUT, type PointOf } from '../../domain/journey.js';
import { EMAIL_LIMIT, PUSH_PAYLOAD_LIMIT, SMS_BODY_LIMIT, type MessageTemplates } from '../../domain/message-templates.js';
import type { PayloadByChannel } from '../../domain/messages.js';
import { earliestSendTime } from '../../domain/silent-hours.js';
import type { BatchMessage, DeviceKind, DueRun, RecipientDevice, UnrenderedMessage } from '../../store/runs/index.js';
import { BatchScopes } from './render.js';
import { endsWait, type PointContext, type PreparedPoint, type RunDecision } from './types.js';

type SendPoint = PointOf<'POINT_TYPE_SEND_PUSH' | 'POINT_TYPE_SEND_EMAIL' | 'POINT_TYPE_SEND_SMS'>;
type DeviceChannel = 'push' | 'email' | 'sms';

/** How one send point reaches a user: which devices, at which address, with which payload templates. */
interface ChannelSend<C extends DeviceChannel> {
  readonly channel: C;
  readonly devices: DeviceKind;
  /** The payload as one part: its channel's limit is on the whole of it. */
  readonly templates: MessageTemplates<{ payload: PayloadByChannel[C] }>;
  recipient(device: RecipientDevice): string;
}

/**
 * SEND_PUSH / SEND_EMAIL / SEND_SMS: one message per device of the right
 * kind that the run's user has in the journey's application (push: devices
 * of push platforms with a push token, to that token; email: device type 14;
 * SMS: type 18 — to the device's push_token, or its hwid when it has none),
 * all with one payload rendered for the run. A user with no such device is
 * passed on without a message. A payload that cannot be rendered (over its
 * channel's limit, out of time) fails the run's messages with the reason.
 *
 * Silent hours, on each device's own clock: a run that arrives while every
 * one of its user's devices is inside the window waits at the point until
 * the first of them leaves it; then (or at once, when some device is outside
 * the window) the message is enqueued for every device, each due when its
 * own window ends, and the run moves on.
 */
export function prepareSend({ journey, renderer }: PointContext, point: SendPoint): PreparedPoint {
  const send = channelSendOf(point);
  const silentHours = journey.silentHours;
  return {
    async execute(runs, { now, access }) {
      const devices = await access.devicesOf(
        runs.map((run) => run.userId),
        send.devices,
      );
      const decisions: RunDecision[] = [];
      const sending: { run: DueRun; devices: RecipientDevice[]; sendTimes: number[] }[] = [];
      for (const run of runs) {
        const own = devices.get(run.userId) ?? [];
        const sendTimes = own.map((device) => earliestSendTime(silentHours, now, device.timezone));
        const first = Math.min(...sendTimes);
        if (own.length > 0 && first > now && !endsWait(run, point)) {
          decisions.push({ kind: 'wait', runId: run.id, until: first });
          continue;
        }
        decisions.push({ kind: 'leave', runId: run.id, output: DEFAULT_OUTPUT });
        if (own.length > 0) sending.push({ run, devices: own, sendTimes });
      }

      const scopes = await BatchScopes.load(
        sending.map((s) => s.run),
        access,
        send.templates,
      );
      const rendered = await renderer.render(
        send.templates,
        sending.map((s) => scopes.scope(s.run)),
      );
      const items: BatchMessage[] = [];
      const unrendered: UnrenderedMessage[] = [];
      sending.forEach(({ run, devices: own, sendTimes }, index) => {
        const outcome = rendered[index] as (typeof rendered)[number];
        own.forEach((device, i) => {
          const { hwid } = device;
          const recipient = send.recipient(device);
          if (outcome.ok) {
            items.push({
              runId: run.id,
              userId: run.userId,
              hwid,
              recipient,
              payload: outcome.message.payload,
              deliverAt: sendTimes[i] as number,
            });
          } else {
            unrendered.push({ runId: run.id, userId: run.userId, hwid, recipient, reason: outcome.reason });
          }
        });
      });
      return { decisions, messages: { channel: send.channel, items, unrendered } };
    },
  };
}

function channelSendOf(point: SendPoint): ChannelSend<DeviceChannel> {
  switch (point.point_type) {
    case 'POINT_TYPE_SEND_PUSH': {
      const { title, body, data } = point.point_data.send_push;
      const push: ChannelSend<'push'> = {
        channel: 'push',
        devices: 'push',
        templates: { payload: { template: { title, body, ...(data === undefined ? {} : { data }) }, limit: PUSH_PAYLOAD_LIMIT } },
        // The device kind `push` selects only devices with a push token.
        recipient: (device) => device.pushToken as string,
      };
      return push;
    }
    case 'POINT_TYPE_SEND_EMAIL': {
      const { subject, body } = point.point_data.send_email;
      const email: ChannelSend<'email'> = {
        channel: 'email',
        devices: 'email',
        templates: { payload: { template: { subject, body }, limit: EMAIL_LIMIT } },
        recipient: addressOf,
      };
      return email;
    }
    case 'POINT_TYPE_SEND_SMS': {
      const { body } = point.point_data.send_sms;
      const sms: ChannelSend<'sms'> = {
        channel: 'sms',
        devices: 'sms',
        templates: { payload: { template: { body }, limit: SMS_BODY_LIMIT } },
        recipient: addressOf,
      };
      return sms;
    }
  }
}

/** An email or SMS device's address: its push_token when it has one, else its hwid (Pushwoosh registers both as the address). */
function addressOf(device: RecipientDevice): string {
  return device.pushToken || device.hwid;
}
