/**
 * Session descriptions shaped like Chrome's audio offers and answers (RFC 8829): ICE
 * candidates and credentials, a DTLS fingerprint, BUNDLE, header extensions, Opus and
 * friends, about 2.5 KB. Every one is unique (session id, ICE credentials, ports), so a
 * relay that mixed two calls' bodies up would be caught by the byte comparison.
 */
// Math.random, not crypto: these only need to differ, and the generator must stay cheap.
const rand = (n) => Math.floor(Math.random() * n);
const HEX = '0123456789abcdef';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const pick = (alphabet, len) => {
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[rand(alphabet.length)];
  return s;
};
const hex = (bytes) => pick(HEX, bytes * 2);
const b64 = (bytes) => pick(B64, Math.ceil((bytes * 4) / 3));

function fingerprint() {
  return hex(32).toUpperCase().match(/../g).join(':');
}

function uuid() {
  const h = hex(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * @param o.direction sendrecv (default), sendonly (hold), recvonly (answer to hold)
 * @param o.setup     actpass (offer) or active (answer)
 * @param o.version   o= version, bumped by re-offers (RFC 3264 §8)
 */
export function chromeSdp({ direction = 'sendrecv', setup = 'actpass', version = 2 } = {}) {
  const session = `${rand(9e8) + 1e8}${rand(9e9) + 1e9}`;
  const stream = uuid();
  const track = uuid();
  const ssrc = rand(4e9) + 1e8;
  const port = 40000 + rand(20000);
  const lan = `192.168.${rand(250) + 1}.${rand(250) + 2}`;
  const pub = `203.0.113.${rand(250) + 2}`;
  const relay = `198.51.100.${rand(250) + 2}`;
  const foundation = () => rand(4e9) + 1e8;
  return [
    'v=0',
    `o=- ${session} ${version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    `a=msid-semantic: WMS ${stream}`,
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=candidate:${foundation()} 1 udp 2122260223 ${lan} ${port} typ host generation 0 network-id 1 network-cost 10`,
    `a=candidate:${foundation()} 1 udp 2122194687 fd00:${hex(2)}:${hex(2)}::${hex(2)} ${port + 1} typ host generation 0 network-id 2 network-cost 10`,
    `a=candidate:${foundation()} 1 udp 2122129151 172.17.${rand(250) + 1}.1 ${port + 4} typ host generation 0 network-id 3 network-cost 50`,
    `a=candidate:${foundation()} 1 tcp 1518280447 ${lan} 9 typ host tcptype active generation 0 network-id 1 network-cost 10`,
    `a=candidate:${foundation()} 1 tcp 1518214911 fd00:${hex(2)}:${hex(2)}::${hex(2)} 9 typ host tcptype active generation 0 network-id 2 network-cost 10`,
    `a=candidate:${foundation()} 1 udp 1686052607 ${pub} ${port + 2} typ srflx raddr ${lan} rport ${port} generation 0 network-id 1 network-cost 10`,
    `a=candidate:${foundation()} 1 udp 41885439 ${relay} ${port + 3} typ relay raddr ${pub} rport ${port + 2} generation 0 network-id 1 network-cost 10`,
    `a=candidate:${foundation()} 1 tcp 25108223 ${relay} ${port + 5} typ relay raddr ${pub} rport ${port + 6} generation 0 network-id 1 network-cost 10`,
    `a=ice-ufrag:${b64(3).slice(0, 4)}`,
    `a=ice-pwd:${b64(18).slice(0, 24)}`,
    'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint()}`,
    `a=setup:${setup}`,
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    `a=${direction}`,
    `a=msid:${stream} ${track}`,
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    `a=ssrc:${ssrc} cname:${b64(12).slice(0, 16)}`,
    `a=ssrc:${ssrc} msid:${stream} ${track}`,
    `a=ssrc:${ssrc} mslabel:${stream}`,
    `a=ssrc:${ssrc} label:${track}`,
    '',
  ].join('\r\n');
}
