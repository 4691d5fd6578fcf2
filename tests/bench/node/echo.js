// The Node ws echo peer of Sluice's benchmark suite (tests/bench/run_bench.py):
// ws://127.0.0.1:PORT/echo sends every text and binary message back as it came.
//
//   node echo.js [--port PORT] [--deflate [--deflate-threshold BYTES]]
//
// --deflate negotiates permessage-deflate with ws's defaults (context
// takeover both ways, messages under 1024 bytes sent uncompressed);
// --deflate-threshold changes that threshold (0: compress every echo).
// Prints "PORT <n>" once listening. Exits on SIGTERM or SIGINT.
'use strict';

const { WebSocketServer } = require('ws');

let port = 0;
let deflate = false;
let threshold = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--port' && i + 1 < args.length) {
        port = Number(args[++i]);
    } else if (args[i] === '--deflate') {
        deflate = true;
    } else if (args[i] === '--deflate-threshold' && i + 1 < args.length) {
        threshold = Number(args[++i]);
    } else {
        console.error('usage: node echo.js [--port PORT] [--deflate [--deflate-threshold BYTES]]');
        process.exit(2);
    }
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('echo.js: --port takes a port number');
    process.exit(2);
}
if (threshold !== null && (!deflate || !Number.isInteger(threshold) || threshold < 0)) {
    console.error('echo.js: --deflate-threshold takes a byte count, with --deflate');
    process.exit(2);
}

// Compression off unless asked for: the echo runs measure the WebSocket
// stack, not zlib. maxPayload as Sluice's default message cap, so that every
// server refuses the same sizes.
const server = new WebSocketServer({
    host: '127.0.0.1',
    port,
    path: '/echo',
    perMessageDeflate: deflate && threshold !== null ? { threshold } : deflate,
    maxPayload: 16 * 1024 * 1024,
    clientTracking: false,
});

server.on('connection', (socket) => {
    // Without a listener an error event would throw and end the process.
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on('error', (error) => {
    console.error(`echo.js: ${error.message}`);
    process.exit(1);
});
server.on('listening', () => {
    console.log(`PORT ${server.address().port}`);
});

for (const signal of ['SIGTERM', 'SIGINT'])
    process.on(signal, () => process.exit(0));
