/**
 * When a phone that got its socket back restarts ICE on its call. Both parties come back
 * at once after a restart of the service, and two re-INVITEs crossing is glare (491,
 * RFC 3261 §14.1), which JsSIP 3.13.8 retries with the CSeq it already used (the peer
 * answers 500 and the call ends). So, as §14.1 spaces retries: the party that does not own
 * the Call-ID (the callee) re-offers half a second after it is registered again, the owner
 * (the caller) after 2.1–4 s; and neither does if the other's re-offer reached it first,
 * which restarted ICE and proved the call alive just as well.
 */
export function restartDelayMs(ownsCallId: boolean): number {
  return ownsCallId ? 2_100 + Math.random() * 1_900 : 500;
}
