// permessage-deflate window bits and context takeover with Node `ws`
// (conformance/deflate_windows.sh runs it).
//
// usage:
//   node deflate_windows.mjs clients PORT   clients with every perMessageDeflate setting
//                                           against our echo server
//   node deflate_windows.mjs servers BASE   echo servers, one per setting, on BASE,
//                                           BASE+1, ... (our client's turn)
//
// ws compresses with windowBits 8 where asked (zlib makes it 9, and reaches
// back at most 250 bytes), so a client window of 8 is tried too; our
// servers answer server_max_window_bits=8, and ws inflates with 8.
import crypto from 'crypto';
import WebSocket, { WebSocketServer } from 'ws';

const [mode, portArg] = process.argv.slice(2);
const port = Number(portArg);

function farMatches() {
  // Noise with a copy of 258 bytes at distances around each window's edge.
  const parts = [];
  for (const d of [200, 249, 250, 251, 256, 257, 300, 511, 512, 513, 2047, 2048, 2049, 8192, 16000, 32768]) {
    const block = crypto.randomBytes(d);
    parts.push(block, block.subarray(0, Math.min(258, d)));
  }
  return Buffer.concat(parts);
}

const far = farMatches();
const noise = crypto.randomBytes(70000);
// A message, then the same again: with context takeover the second refers
// back into the first, across the inflater's calls, where zlib keeps only its
// window (at 8 bits it refuses a distance past 257).
const near = crypto.randomBytes(230);
const beyond = crypto.randomBytes(300);
const messages = [near, near, beyond, beyond, far, far, '', 'x', 'abcdefgh '.repeat(400), noise, Buffer.alloc(0), Buffer.alloc(5000),
  'héllo ✓'.repeat(300), '0123456789abcdef'.repeat(70000), Buffer.concat([noise.subarray(0, 40000), noise.subarray(0, 30000)])];

// Every message echoed intact: resolves to the 101's Sec-WebSocket-Extensions
// ('' for none), rejects otherwise.
function session(perMessageDeflate) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate, maxPayload: 64 << 20 });
    let i = 0;
    let answered = '';
    ws.on('upgrade', (response) => { answered = response.headers['sec-websocket-extensions'] || ''; });
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('no echo in 60 s')); }, 60000);
    const fail = (err) => { clearTimeout(timer); ws.terminate(); reject(err); };
    ws.on('open', () => ws.send(messages[0]));
    ws.on('message', (data, isBinary) => {
      const sent = messages[i];
      const want = typeof sent === 'string' ? Buffer.from(sent) : sent;
      if (!Buffer.from(data).equals(want) || isBinary !== (typeof sent !== 'string')) {
        return fail(new Error(`the echo of message ${i} (${want.length} bytes) differs`));
      }
      i += 1;
      if (i < messages.length) return ws.send(messages[i]);
      clearTimeout(timer);
      ws.close(1000);
      return resolve(answered);
    });
    ws.on('error', fail);
    ws.on('close', (code, reason) => { if (i < messages.length) fail(new Error(`closed ${code} ${reason}`)); });
  });
}

async function clients() {
  let total = 0, failed = 0, compressed = 0, windowsOf8 = 0;
  for (const clientMaxWindowBits of [true, undefined, 8, 9, 10, 15]) {
    for (const serverMaxWindowBits of [undefined, 8, 9, 12, 15]) {
      for (const serverNoContextTakeover of [false, true]) {
        for (const clientNoContextTakeover of [false, true]) {
          const settings = { clientMaxWindowBits, serverMaxWindowBits, serverNoContextTakeover, clientNoContextTakeover, threshold: 0 };
          for (const key of Object.keys(settings)) if (settings[key] === undefined) delete settings[key];
          total += 1;
          try {
            const extensions = await session(settings);
            const eight = serverMaxWindowBits === 8;
            if (extensions === '' || eight !== extensions.includes('server_max_window_bits=8')) {
              failed += 1;
              console.log(`  FAIL ${JSON.stringify(settings)}: the 101 answered ${JSON.stringify(extensions)}`);
            }
            if (extensions !== '') compressed += 1;
            if (eight && extensions !== '') windowsOf8 += 1;
          } catch (err) {
            failed += 1;
            console.log(`  FAIL ${JSON.stringify(settings)}: ${err.message}`);
          }
        }
      }
    }
  }
  console.log(`  ${total - failed}/${total} sessions echoed intact (${compressed} compressed, ${windowsOf8} of them with server_max_window_bits=8)`);
  return failed === 0;
}

const SERVER_SETTINGS = [
  true,
  { serverMaxWindowBits: 9, threshold: 0 },
  { serverMaxWindowBits: 12, clientMaxWindowBits: 10, threshold: 0 },
  { clientMaxWindowBits: 9, threshold: 0 },
  { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 },
  { serverMaxWindowBits: 10, clientMaxWindowBits: 9, serverNoContextTakeover: true, threshold: 0 },
  { clientMaxWindowBits: 8, threshold: 0 },
  { serverMaxWindowBits: 8, threshold: 0 },
];

function servers() {
  SERVER_SETTINGS.forEach((perMessageDeflate, i) => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: port + i, perMessageDeflate, maxPayload: 64 << 20 });
    server.on('connection', (ws) => {
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      ws.on('error', (err) => console.log(`ws error on ${port + i}: ${err.message}`));
    });
    console.log(port + i, JSON.stringify(perMessageDeflate));
  });
}

if (mode === 'servers') {
  servers();
} else if (mode === 'clients') {
  process.exitCode = (await clients()) ? 0 : 1;
} else {
  console.error('usage: node deflate_windows.mjs clients|servers PORT');
  process.exitCode = 2;
}
