/**
 * How large the parts of a message from a client may be. RFC 3261 leaves every size to the
 * server; these bound what one request can make a user's object keep (a fork keeps the
 * request's Via, From, To, Call-ID and CSeq; a dialog its From, To, Request-URI and
 * Contacts), so that records stay small whatever a client sends.
 */

/** A whole message (one WebSocket frame, RFC 7118 §5): 513 above it (§21.5.12). */
export const MAX_MESSAGE_BYTES = 64 * 1024;
/**
 * A message relayed between users' objects: what a client may send plus what the hops
 * add to it (Via, Record-Route, P-Asserted-Identity: well under 1 KiB), so that nothing a
 * client was allowed to send is lost between the objects.
 */
export const MAX_RELAYED_BYTES = MAX_MESSAGE_BYTES + 4 * 1024;
/** One header line, folded continuations included: 513 above it (§21.5.12). */
export const MAX_HEADER_LINE = 4096;
/** The whole header section: 513 above it (§21.5.12). A browser's INVITE has about 1.5 KiB. */
export const MAX_HEADER_SECTION = 16 * 1024;
/** The Request-URI: 414 above it (§21.4.12). */
export const MAX_REQUEST_URI = 1024;
/** A URI inside From, To or Contact: 400 above it. */
export const MAX_HEADER_URI = 1024;
/** A display name in From, To or Contact: 400 above it. */
export const MAX_DISPLAY_NAME = 256;
/** A From or To tag: 400 above it (JsSIP and SIP.js send 10 to 30 characters). */
export const MAX_TAG = 128;
/** A Call-ID: 400 above it. */
export const MAX_CALL_ID = 256;
