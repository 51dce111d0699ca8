// Prints a fresh VAPID key pair (RFC 8292) for Web Push, base64url, as the secrets take them:
//   node scripts/vapid-keys.mjs
//   wrangler secret put VAPID_PUBLIC_KEY   (the public key: also the page's applicationServerKey)
//   wrangler secret put VAPID_PRIVATE_KEY
const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
const pub = Buffer.from(await crypto.subtle.exportKey('raw', keys.publicKey)).toString('base64url');
const { d } = await crypto.subtle.exportKey('jwk', keys.privateKey);
console.log(`VAPID_PUBLIC_KEY=${pub}\nVAPID_PRIVATE_KEY=${d}`);
