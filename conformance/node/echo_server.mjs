// A Node `ws` echo server on 127.0.0.1:PORT for our client's real-peer tests
// (codec/tests/deflate_real_peer_echo.rs): permessage-deflate on (ws's server
// default is off) and a 64 MiB message limit (the tests send 17 MiB).
// usage: node echo_server.mjs PORT
import { WebSocketServer } from 'ws';

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: Number(process.argv[2]),
  perMessageDeflate: true,
  maxPayload: 64 << 20,
});
server.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (err) => console.log(`ws error: ${err.message}`));
});
