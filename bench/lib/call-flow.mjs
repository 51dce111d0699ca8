/**
 * One call, the way two browsers make it: INVITE (100, 180, 200), ACK, hold by re-INVITE
 * (200, ACK), BYE (200). The caller keeps the dialog as RFC 3261 §12.1.2 says: remote
 * tag and target from the 200, route set from its Record-Route, reversed.
 */
import { chromeSdp } from './sdp.mjs';
import { recordRoutes, tagOf, token, uriOf } from './sip-message.mjs';
import { ScenarioFailure } from './stats.mjs';

/** A call's identifiers and its four session descriptions, shared with the callee's UA. */
export function newCall() {
  return {
    callId: `${token()}${token()}${token()}`,
    callerTag: token(),
    calleeTag: token(),
    offer: chromeSdp(),
    answer: chromeSdp({ setup: 'active' }),
    holdOffer: chromeSdp({ direction: 'sendonly', version: 3 }),
    holdAnswer: chromeSdp({ direction: 'recvonly', setup: 'active', version: 3 }),
  };
}

function expectOk(res, what) {
  if (res.status !== 200) throw new ScenarioFailure(res.status, what);
}

/**
 * Runs the whole call. `onSetup(ms)` is told the setup latency (INVITE sent to 200 at the
 * caller) as soon as the 200 arrives.
 */
export async function placeCall(caller, callee, calls, tally, onSetup) {
  const call = newCall();
  calls.set(call.callId, call);
  try {
    const t0 = performance.now();
    const ok = await caller.transact('INVITE', call.callId, caller.invite(callee.user, call));
    expectOk(ok, 'INVITE');
    onSetup(performance.now() - t0);
    if (ok.body !== call.answer) tally.sdpMismatches++;
    const dialog = {
      callId: call.callId,
      localTag: call.callerTag,
      remote: `<sip:${callee.user}@${caller.domain}>`,
      remoteTag: tagOf(ok.get('to')),
      target: uriOf(ok.get('contact')),
      route: recordRoutes(ok).reverse(),
    };
    if (!dialog.remoteTag || !dialog.target) throw new ScenarioFailure('bad-200', 'no To tag or Contact');
    caller.send(caller.inDialog('ACK', dialog, 1));

    const held = await caller.transact('INVITE', call.callId, caller.inDialog('INVITE', dialog, 2, call.holdOffer));
    expectOk(held, 're-INVITE');
    if (held.body !== call.holdAnswer) tally.sdpMismatches++;
    caller.send(caller.inDialog('ACK', dialog, 2));

    expectOk(await caller.transact('BYE', call.callId, caller.inDialog('BYE', dialog, 3)), 'BYE');
  } finally {
    calls.delete(call.callId);
  }
}
