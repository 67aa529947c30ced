// Interop with the Node `ws` client against our echo server.
// usage: node peer.mjs PORT
import WebSocket from 'ws';

const url = `ws://127.0.0.1:${process.argv[2]}`;
const failures = [];

function check(name, ok, detail = '') {
  console.log(`  ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ': ' + detail : ''}`);
  if (!ok) failures.push(name);
}

// Opens a connection and resolves with helpers to await the next message and the close.
function connect(options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const messages = [];
    const waiters = [];
    ws.on('message', (data, isBinary) => {
      const item = { data, isBinary };
      if (waiters.length) waiters.shift()(item); else messages.push(item);
    });
    const closed = new Promise((done) => ws.on('close', (code, reason) => done({ code, reason: reason.toString() })));
    ws.on('error', (err) => console.log(`  (ws error event: ${err.message})`));
    ws.on('open', () => resolve({
      ws,
      closed,
      next: () => (messages.length ? Promise.resolve(messages.shift()) : new Promise((r) => waiters.push(r))),
    }));
    ws.on('unexpected-response', () => reject(new Error('handshake refused')));
  });
}

const withTimeout = (promise, ms, what) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timeout: ${what}`)), ms)),
]);

async function main() {
  let c = await connect();
  c.ws.send('héllo, wörld 😀');
  let m = await withTimeout(c.next(), 5000, 'text echo');
  check('text echo', !m.isBinary && m.data.toString() === 'héllo, wörld 😀');

  const payload = Buffer.alloc(76800, 0).map((_, i) => i % 256);
  c.ws.send(payload);
  m = await withTimeout(c.next(), 5000, 'binary echo');
  check('binary echo (76800 B)', m.isBinary && Buffer.compare(m.data, payload) === 0);

  const emoji = Buffer.from('😀');
  c.ws.send(Buffer.from('split '), { binary: false, fin: false });
  c.ws.send(emoji.subarray(0, 2), { binary: false, fin: false });
  c.ws.send(emoji.subarray(2), { binary: false, fin: false });
  c.ws.send(Buffer.from(' done'), { binary: false, fin: true });
  m = await withTimeout(c.next(), 5000, 'fragmented echo');
  check('fragmented text, 4-byte code point split across fragments', !m.isBinary && m.data.toString() === 'split 😀 done');

  c.ws.close(1000);
  let closed = await withTimeout(c.closed, 5000, 'close 1000');
  check('close 1000 both ways', closed.code === 1000, `close event code ${closed.code}`);

  c = await connect();
  c.ws.close(3000, 'application reason');
  closed = await withTimeout(c.closed, 5000, 'close 3000');
  check('close 3000 with a reason echoed', closed.code === 3000, `close event code ${closed.code}`);

  c = await connect();
  c.ws.send(Buffer.from([0x76, 0xff, 0xfe]), { binary: false });
  closed = await withTimeout(c.closed, 5000, 'close after invalid UTF-8');
  check('invalid UTF-8 closes with 1007', closed.code === 1007,
    `close event code ${closed.code}, reason ${JSON.stringify(closed.reason)}`);

  // The 1007's reason says which bytes and what the sender likely did.
  for (const [name, payload, reason] of [
    ['UTF-16 text', Buffer.from('hello, wörld', 'utf16le'),
      'invalid UTF-8 at byte 16 of the message: F6 (UTF-16?)'],
    ['a PNG as text', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      'invalid UTF-8 at byte 0 of the message: 89 (binary: PNG image?)'],
  ]) {
    c = await connect();
    c.ws.send(payload, { binary: false });
    closed = await withTimeout(c.closed, 5000, `close after ${name}`);
    console.log(`    ${name}: close event ${closed.code} ${JSON.stringify(closed.reason)}`);
    check(`${name} diagnosed in the 1007`, closed.code === 1007 && closed.reason === reason,
      `close event code ${closed.code}, reason ${JSON.stringify(closed.reason)}`);
  }

  // permessage-deflate (RFC 7692): compressed round trips, context takeover.
  c = await connect({ perMessageDeflate: { threshold: 0 } });
  check('permessage-deflate negotiated', c.ws.extensions.includes('permessage-deflate'), c.ws.extensions);
  const text = 'compressed text, κόσμε 😀 '.repeat(200);
  for (let i = 1; i <= 3; i++) {
    c.ws.send(text);
    m = await withTimeout(c.next(), 5000, 'compressed text echo');
    check(`compressed text echo ${i} (context takeover)`, !m.isBinary && m.data.toString() === text);
  }
  const big = Buffer.alloc(102400, 0).map((_, i) => i % 256);
  c.ws.send(big);
  m = await withTimeout(c.next(), 5000, 'compressed binary echo');
  check('compressed binary echo (102400 B)', m.isBinary && Buffer.compare(m.data, big) === 0);
  c.ws.close(1000);
  await withTimeout(c.closed, 5000, 'close');

  c = await connect({ perMessageDeflate: { threshold: 0 } });
  c.ws.send(Buffer.concat([Buffer.alloc(4096, 0x61), Buffer.from([0x20, 0xff, 0xfe])]), { binary: false, compress: true });
  closed = await withTimeout(c.closed, 5000, 'close after compressed invalid UTF-8');
  check('compressed invalid UTF-8 closes with 1007', closed.code === 1007,
    `close event code ${closed.code}, reason ${JSON.stringify(closed.reason)}`);
}

main().then(
  () => process.exit(failures.length ? 1 : 0),
  (err) => { console.log(`  FAIL ${err.message}`); process.exit(1); },
);
