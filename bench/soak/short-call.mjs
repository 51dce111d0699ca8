/**
 * One plain call between two of the bench's UAs: INVITE (100, 180, 200), ACK, a pause,
 * BYE (200). The callee's UA answers it (bench/lib/sip-ua.mjs) and compares the offer byte
 * for byte; the caller compares the answer and checks that the 180 came through. Any
 * departure is a failure with a cause ("sdp-mismatch", "no-180", a status, "timeout").
 */
import { newCall } from '../lib/call-flow.mjs';
import { sleep } from '../lib/proc.mjs';
import { recordRoutes, tagOf, uriOf } from '../lib/sip-message.mjs';
import { ScenarioFailure } from '../lib/stats.mjs';

/**
 * @param o.calls   the registry Call-ID -> call shared with the callee's UA
 * @param o.tally   the counters shared with the callee's UA (sdpMismatches is read)
 * @param o.holdMs  time between ACK and BYE
 * @returns { setupMs } INVITE sent -> 200 received at the caller
 */
export async function shortCall(caller, callee, { calls, tally, holdMs = 0, checkRinging = true }) {
  const call = newCall();
  calls.set(call.callId, call);
  const mismatchesBefore = tally.sdpMismatches;
  try {
    const t0 = performance.now();
    const ok = await caller.transact('INVITE', call.callId, caller.invite(callee.user, call));
    if (ok.status !== 200) throw new ScenarioFailure(ok.status, 'INVITE');
    const setupMs = performance.now() - t0;
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
    if (ok.body !== call.answer || tally.sdpMismatches !== mismatchesBefore) throw new ScenarioFailure('sdp-mismatch');
    if (checkRinging && caller.ringing && !caller.ringing.delete(call.callId)) throw new ScenarioFailure('no-180');
    if (holdMs > 0) await sleep(holdMs);
    const bye = await caller.transact('BYE', call.callId, caller.inDialog('BYE', dialog, 2));
    if (bye.status !== 200) throw new ScenarioFailure(bye.status, 'BYE');
    return { setupMs };
  } finally {
    calls.delete(call.callId);
    caller.ringing?.delete(call.callId);
  }
}
