/**
 * One call, the way two browsers make it. At bench load: INVITE (100, 180, 200), ACK,
 * hold by re-INVITE (200, ACK), BYE (200). Sparse: INVITE (100, 180), the callee rings,
 * 200, ACK, the call lasts, BYE (200). The caller keeps the dialog as RFC 3261 §12.1.2
 * says: remote tag and target from the 200, route set from its Record-Route, reversed.
 */
import { chromeSdp } from './sdp.mjs';
import { recordRoutes, tagOf, token, uriOf } from './sip-message.mjs';
import { ScenarioFailure } from './stats.mjs';

/**
 * A call's identifiers and its four session descriptions, shared with the callee's UA;
 * the callee answers `ringMs` after its 180 (and notes when in `answeredAt`).
 */
export function newCall({ ringMs = 0 } = {}) {
  return {
    ringMs,
    answeredAt: 0,
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
    const dialog = confirm(caller, callee, call, ok);

    const held = await caller.transact('INVITE', call.callId, caller.inDialog('INVITE', dialog, 2, call.holdOffer));
    expectOk(held, 're-INVITE');
    if (held.body !== call.holdAnswer) tally.sdpMismatches++;
    caller.send(caller.inDialog('ACK', dialog, 2));

    expectOk(await caller.transact('BYE', call.callId, caller.inDialog('BYE', dialog, 3)), 'BYE');
  } finally {
    calls.delete(call.callId);
  }
}

/** The caller's dialog from the 200 (§12.1.2), and its ACK sent. */
function confirm(caller, callee, call, ok) {
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
  return dialog;
}

/**
 * The sparse scenario's call: INVITE, the 180 after the callee's own 100 (`onRinging(ms)`:
 * INVITE sent to 180 received, both objects woken from hibernation on the way), the
 * callee answers `ringMs` later (`onAnswer(ms)`: its 200 sent to received), ACK, `talkMs`
 * of silence, BYE and its 200.
 */
export async function placeSparseCall(caller, callee, calls, tally, { ringMs, talkMs, onRinging, onAnswer }) {
  const call = newCall({ ringMs });
  calls.set(call.callId, call);
  try {
    const t0 = performance.now();
    let rang = false;
    const ok = await caller.transact('INVITE', call.callId, caller.invite(callee.user, call), {
      onProvisional: (res) => {
        if (res.status === 180 && !rang) {
          rang = true;
          onRinging(performance.now() - t0);
        }
      },
    });
    expectOk(ok, 'INVITE');
    if (call.answeredAt) onAnswer(performance.now() - call.answeredAt);
    if (ok.body !== call.answer) tally.sdpMismatches++;
    const dialog = confirm(caller, callee, call, ok);
    await new Promise((r) => setTimeout(r, talkMs));
    expectOk(await caller.transact('BYE', call.callId, caller.inDialog('BYE', dialog, 2)), 'BYE');
  } finally {
    calls.delete(call.callId);
  }
}
