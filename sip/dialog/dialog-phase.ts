/**
 * The dialog's state machine (RFC 3261 §12: a dialog is early, then confirmed, and ends),
 * as one table read top to bottom. The field is `state`, the RFC's own word for it. Each
 * way a dialog can end is an event with its row, and the row names the reason the call's
 * record keeps. dialog.ts does the work; this says which moves exist and why.
 */
import type { DialogState } from '../state.js';

export type DialogEvent =
  | 'answered'
  | 'rejected'
  | 'canceled'
  | 'caller-gone'
  | 'bye'
  | 'session-expired'
  | 'connection-lost'
  | 'timeout'
  | 'expired'
  | 'notify-terminated'
  | 'flow-lost'
  | 'flow-recovered'
  | 'grace-expired';

interface Transition {
  readonly from: DialogState;
  readonly on: DialogEvent;
  readonly to: DialogState;
  readonly rfc: string;
}

export const DIALOG_TRANSITIONS: readonly Transition[] = [
  { from: 'early', on: 'answered', to: 'confirmed', rfc: '§12.1.1, §12.1.2: a 2xx to the dialog-creating request confirms it (RFC 6665 §4.1.2.1 for SUBSCRIBE)' },
  { from: 'early', on: 'rejected', to: 'ended', rfc: '§12.3, §13.2.2.3: a non-2xx final response ends every early dialog of the request' },
  { from: 'early', on: 'canceled', to: 'ended', rfc: '§9.2: the CANCELled INVITE is answered 487' },
  { from: 'early', on: 'caller-gone', to: 'ended', rfc: "§9.1: the caller's socket went before an answer; its INVITE is CANCELled on its behalf" },
  { from: 'early', on: 'bye', to: 'ended', rfc: '§15: the caller MAY send BYE in an early dialog' },
  { from: 'early', on: 'connection-lost', to: 'ended', rfc: 'RFC 5626 §5.3: the flow is gone, and with it the early dialog' },
  { from: 'early', on: 'timeout', to: 'ended', rfc: '§17.1.1.2 Timer B: no final answer came (the safety expiry, 408)' },
  { from: 'confirmed', on: 'bye', to: 'ended', rfc: '§15.1.2: a BYE ends the session' },
  { from: 'confirmed', on: 'session-expired', to: 'ended', rfc: 'RFC 4028 §10: nobody refreshed the session; BYE to both sides' },
  { from: 'confirmed', on: 'connection-lost', to: 'ended', rfc: "RFC 5626 §5.3: the flow is gone and the tenant holds no call (grace 0); BYE on the lost party's behalf (§15.1.1)" },
  { from: 'confirmed', on: 'flow-lost', to: 'held', rfc: 'RFC 5626 §4.2.1: a UA whose flow fails forms a new one; a dialog is between UAs (§12) and outlives the transport, so it waits for the device' },
  { from: 'held', on: 'flow-recovered', to: 'confirmed', rfc: 'RFC 5626 §4.2.1, RFC 5627 §4.1: the same instance registered a new flow (or sent the dialog a request on one); the dialog goes on there' },
  { from: 'held', on: 'grace-expired', to: 'ended', rfc: "§15.1.1: the device did not come back in time; BYE on its behalf, with a Reason (RFC 3326)" },
  { from: 'held', on: 'bye', to: 'ended', rfc: '§15.1.2: the other party hung up while the device was away; its BYE is answered on the device’s behalf' },
  { from: 'held', on: 'connection-lost', to: 'ended', rfc: "§15.1.1: the user was deleted or disabled while away; BYE on its behalf, now" },
  { from: 'held', on: 'session-expired', to: 'ended', rfc: 'RFC 4028 §10: nobody refreshed the session' },
  { from: 'confirmed', on: 'expired', to: 'ended', rfc: 'RFC 6665 §4.1.2.2: the subscription was not refreshed' },
  { from: 'confirmed', on: 'notify-terminated', to: 'ended', rfc: 'RFC 6665 §4.1.3: NOTIFY with Subscription-State: terminated' },
  // Not listed, so nothing happens: anything to an ended dialog (a BYE crossing a BYE,
  // §15.1.2 answers it 481 at the UA), a second 2xx to a confirmed one (§13.2.2.4).
];

export function nextState(state: DialogState, on: DialogEvent): DialogState | undefined {
  return DIALOG_TRANSITIONS.find((t) => t.from === state && t.on === on)?.to;
}
