// The Node ws echo peer of Sluice's benchmark suite (tests/bench/run_bench.py):
// ws://127.0.0.1:PORT/echo sends every text and binary message back as it came.
//
//   node echo.js [--port PORT]
//
// Prints "PORT <n>" once listening. Exits on SIGTERM or SIGINT.
'use strict';

const { WebSocketServer } = require('ws');

let port = 0;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--port' && i + 1 < args.length) {
        port = Number(args[++i]);
    } else {
        console.error('usage: node echo.js [--port PORT]');
        process.exit(2);
    }
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('echo.js: --port takes a port number');
    process.exit(2);
}

// Compression off: the other servers under test do not negotiate it, and it
// would measure zlib rather than the WebSocket stack. maxPayload as Sluice's
// default message cap, so that every server refuses the same sizes.
const server = new WebSocketServer({
    host: '127.0.0.1',
    port,
    path: '/echo',
    perMessageDeflate: false,
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
