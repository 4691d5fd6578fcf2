// A reference echo server for tests/e2e/conformance.py: Node's `ws` package,
// which passes every Autobahn case 1-13, so that the conformance client can
// be checked against a known-good peer before it judges Sluice.
//
//   node tests/e2e/nodeecho.js --port 0 [--deflate]
//
// Serves ws://127.0.0.1:PORT/echo, echoing every text and binary message as
// it came. Prints "PORT <n>" once listening; exits on SIGTERM or SIGINT.
// --deflate turns permessage-deflate on, with a threshold of 0 so that even
// the smallest echoed message is compressed (ws's default leaves messages
// under 1 KiB uncompressed, which would test the client's inflater less).
// `ws` comes from tests/bench/node (run `npm ci` there).
'use strict';

const path = require('path');

function loadWs() {
    for (const name of [path.join(__dirname, '..', 'bench', 'node', 'node_modules', 'ws'), 'ws']) {
        try {
            return require(name);
        } catch (error) {
            // try the next place
        }
    }
    console.error('nodeecho.js: cannot load ws; run `npm ci` in tests/bench/node');
    process.exit(1);
}

function parseArgs(argv) {
    const options = { port: 0, deflate: false };
    for (let i = 0; i < argv.length; ++i) {
        if (argv[i] === '--port' && i + 1 < argv.length) {
            options.port = Number(argv[++i]);
        } else if (argv[i] === '--deflate') {
            options.deflate = true;
        } else {
            console.error('usage: node nodeecho.js [--port PORT] [--deflate]');
            process.exit(2);
        }
    }
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
        console.error('nodeecho.js: --port takes a port number');
        process.exit(2);
    }
    return options;
}

const options = parseArgs(process.argv.slice(2));
const { WebSocketServer } = loadWs();

const server = new WebSocketServer({
    host: '127.0.0.1',
    port: options.port,
    path: '/echo',
    perMessageDeflate: options.deflate ? { threshold: 0 } : false,
    maxPayload: 16 * 1024 * 1024,
    clientTracking: false,
});

server.on('connection', (socket) => {
    // Without a listener an error event would throw and end the process.
    socket.on('error', () => {});
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});
server.on('error', (error) => {
    console.error(`nodeecho.js: ${error.message}`);
    process.exit(1);
});
server.on('listening', () => {
    console.log(`PORT ${server.address().port}`);
});

for (const signal of ['SIGTERM', 'SIGINT'])
    process.on(signal, () => process.exit(0));
