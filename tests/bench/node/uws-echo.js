// The uWebSockets.js echo peer of Sluice's benchmark suite (tests/bench/run_bench.py):
// ws://127.0.0.1:PORT/echo sends every text and binary message back as it came.
//
//   node uws-echo.js [--port PORT] [--deflate]
//
// --deflate negotiates permessage-deflate with uWS's SHARED_COMPRESSOR (one
// zlib stream for all connections, so no context takeover) and compresses
// every echo; without it compression is off. Prints "PORT <n>" once
// listening. Exits on SIGTERM or SIGINT.
'use strict';

const path = require('path');

// The native addon by its own path: the package's entry point would fall
// back to a JavaScript implementation over ws when the binary does not load,
// and the suite would measure ws twice without saying so.
function loadUws() {
    const dir = path.dirname(require.resolve('@trufflesuite/uws-js-unofficial/package.json'));
    const name = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
    try {
        return require(path.join(dir, 'binaries', name));
    } catch (error) {
        console.error(`uws-echo.js: no uWS binary for this Node (${name}): ${error.message}`);
        process.exit(1);
    }
}

let port = 0;
let deflate = false;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--port' && i + 1 < args.length) {
        port = Number(args[++i]);
    } else if (args[i] === '--deflate') {
        deflate = true;
    } else {
        console.error('usage: node uws-echo.js [--port PORT] [--deflate]');
        process.exit(2);
    }
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error('uws-echo.js: --port takes a port number');
    process.exit(2);
}

const uWS = loadUws();

// maxPayloadLength as Sluice's default message cap; idleTimeout 0: no
// pings and no timeout, so that 10,000 idle connections stay as they are.
// maxBackpressure well above 10 echoes of 16 KiB in flight: past it uWS
// drops messages rather than buffering them.
uWS.App().ws('/echo', {
    compression: deflate ? uWS.SHARED_COMPRESSOR : uWS.DISABLED,
    maxPayloadLength: 16 * 1024 * 1024,
    maxBackpressure: 64 * 1024 * 1024,
    idleTimeout: 0,
    message: (socket, message, isBinary) => {
        // 2: dropped. Closing makes the loss visible to the load client.
        if (socket.send(message, isBinary, deflate) === 2)
            socket.end(1011, 'backpressure');
    },
}).listen('127.0.0.1', port, (token) => {
    if (!token) {
        console.error(`uws-echo.js: cannot listen on 127.0.0.1:${port}`);
        process.exit(1);
    }
    console.log(`PORT ${uWS.us_socket_local_port(token)}`);
});

for (const signal of ['SIGTERM', 'SIGINT'])
    process.on(signal, () => process.exit(0));
