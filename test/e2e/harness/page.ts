/**
 * The library harness page: one SIP user agent per page, JsSIP or SIP.js as the Node side
 * asks, exposed as `window.harness`. Served by the tests from their own origin; the page
 * only opens WebSockets to the product (the API is called from Node).
 */
import { JsSipPhone } from './jssip-phone.js';
import { SipJsPhone } from './sipjs-phone.js';
import { HandoverSocket } from './handover-socket.js';
import type { Harness, PhoneConfig } from './types.js';

let phone: Harness | null = null;

function current(): Harness {
  if (!phone) throw new Error('harness.start() first');
  return phone;
}

window.harness = {
  start(config: PhoneConfig) {
    if (config.handover) window.WebSocket = HandoverSocket as unknown as typeof WebSocket;
    phone = config.library === 'jssip' ? new JsSipPhone() : new SipJsPhone();
    document.title = `${config.library} ${config.uri}`;
    return phone.start(config);
  },
  call: (target, video) => current().call(target, video),
  answer: (video) => current().answer(video),
  hangup: () => current().hangup(),
  hold: () => current().hold(),
  unhold: () => current().unhold(),
  transfer: (target) => current().transfer(target),
  renegotiate: () => current().renegotiate(),
  handover: () => current().handover(),
  calls: () => phone?.calls() ?? [],
  recoveries: () => phone?.recoveries() ?? [],
};
