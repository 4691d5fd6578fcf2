// A permessage-deflate client for tests/e2e/e2e_deflate.py: Node's `ws`
// package against an echo route of Sluice.
//
//   node tests/e2e/nodeclient.js URL [--threshold N] [--expect-extensions NAMES]
//                                    [--expect-header VALUE] [--timeout SECONDS]
//
// Connects with perMessageDeflate on (ws offers "permessage-deflate;
// client_max_window_bits"), sends text and binary messages of 0, 1, 63, 64,
// 65, 1000, 65536 and 1 MiB bytes, repetitive JSON, random bytes and 300
// similar JSON messages, all before reading, and checks that every echo comes
// back in order, of the same type and with the same bytes.
//   --threshold N         perMessageDeflate: {threshold: N}: ws compresses
//                         messages of N bytes and more (its default is 1024);
//                         0 compresses every message, the smallest too.
//   --expect-extensions   what ws.extensions must be (the names ws accepted,
//                         joined with ","): "permessage-deflate" by default;
//                         "" for a server that declines the offer.
//   --expect-header       the exact Sec-WebSocket-Extensions the server must
//                         answer ("" for none); unchecked without it.
//   --timeout SECONDS     for the whole run (30 by default).
// Prints one line, "nodeclient: PASS ..." or "nodeclient: FAIL ...", and
// exits 0 or 1 (2 for a bad command line). `ws` comes from tests/bench/node
// (run `npm ci` there) or NODE_PATH.
'use strict';

const crypto = require('crypto');
const path = require('path');

function loadWs() {
    try {
        return require(path.join(__dirname, '..', 'bench', 'node', 'node_modules', 'ws'));
    } catch (error) {
        return require('ws');
    }
}

function usage(message) {
    console.error(`nodeclient.js: ${message}`);
    console.error('usage: node nodeclient.js URL [--threshold N] [--expect-extensions NAMES]'
                  + ' [--expect-header VALUE] [--timeout SECONDS]');
    process.exit(2);
}

function parseArgs(argv) {
    const options = { url: null, threshold: null, expectExtensions: 'permessage-deflate',
                      expectHeader: null, timeout: 30 };
    for (let i = 0; i < argv.length; ++i) {
        const arg = argv[i];
        const value = () => {
            if (i + 1 >= argv.length)
                usage(`${arg} takes a value`);
            return argv[++i];
        };
        if (arg === '--threshold') {
            options.threshold = Number(value());
            if (!Number.isInteger(options.threshold) || options.threshold < 0)
                usage('--threshold takes a byte count');
        } else if (arg === '--expect-extensions') {
            options.expectExtensions = value();
        } else if (arg === '--expect-header') {
            options.expectHeader = value();
        } else if (arg === '--timeout') {
            options.timeout = Number(value());
            if (!(options.timeout > 0))
                usage('--timeout takes seconds');
        } else if (!arg.startsWith('--') && options.url === null) {
            options.url = arg;
        } else {
            usage(`unknown argument ${JSON.stringify(arg)}`);
        }
    }
    if (!options.url)
        usage('no URL');
    return options;
}

// Text of size bytes (ASCII, so that bytes and characters agree) from a
// seeded generator: the same run every time, not too compressible.
function pseudoText(size, seed) {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJ,.0123456789';
    const bytes = Buffer.alloc(size);
    let state = seed >>> 0 || 1;
    for (let i = 0; i < size; ++i) {
        // xorshift32
        state ^= state << 13;
        state >>>= 0;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        bytes[i] = alphabet.charCodeAt(state % alphabet.length);
    }
    return bytes.toString('latin1');
}

function repetitiveJson(count) {
    const rows = [];
    for (let i = 0; i < count; ++i)
        rows.push({ id: i, name: `sensor-${i % 10}`, status: 'ok', value: i * 0.5,
                    tags: ['alpha', 'beta', 'gamma'] });
    return JSON.stringify({ type: 'readings', rows });
}

// [data, binary] pairs, in the order they are sent.
function messages() {
    const list = [];
    const sizes = [0, 1, 63, 64, 65, 1000, 65536, 1024 * 1024];
    sizes.forEach((size, index) => {
        list.push([pseudoText(size, 7692 + index), false]);
        list.push([crypto.randomBytes(size), true]);
    });
    const json = repetitiveJson(500);
    list.push([json, false]);
    list.push([Buffer.from(json), true]);
    list.push(['h\u00e9llo w\u00f6rld \u2713 \u{1F600} '.repeat(100), false]);
    list.push([Buffer.alloc(100000), true]);
    for (let i = 0; i < 300; ++i)
        list.push([JSON.stringify({ seq: i, kind: 'tick', room: 'r1', pad: 'x'.repeat(i % 130) }),
                   i % 3 === 2]);
    return list;
}

function describe(data, binary) {
    const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    return `${binary ? 'binary' : 'text'} of ${length} bytes`;
}

function main() {
    const options = parseArgs(process.argv.slice(2));
    let WebSocket;
    try {
        WebSocket = loadWs();
    } catch (error) {
        console.log('nodeclient: FAIL the ws package is not installed'
                    + ' (npm ci in tests/bench/node): ' + error.message);
        process.exit(1);
    }
    const perMessageDeflate = options.threshold === null ? true : { threshold: options.threshold };
    const sent = messages();
    const expected = sent.map(([data, binary]) => [typeof data === 'string' ? Buffer.from(data)
                                                                           : data, binary]);
    let received = 0;
    let header = null;
    let finished = false;

    const finish = (ok, text) => {
        if (finished)
            return;
        finished = true;
        console.log(`nodeclient: ${ok ? 'PASS' : 'FAIL'} ${text}`);
        process.exitCode = ok ? 0 : 1;
        clearTimeout(timer);
        try {
            ws.terminate();
        } catch (error) {
        }
        // Nothing else may keep the process alive past its verdict.
        setImmediate(() => process.exit(process.exitCode));
    };
    const timer = setTimeout(() => finish(false, `timed out after ${options.timeout} s with `
                                          + `${received} of ${sent.length} echoes`),
                             options.timeout * 1000);

    const ws = new WebSocket(options.url, { perMessageDeflate, maxPayload: 64 * 1024 * 1024,
                                            handshakeTimeout: 10000 });
    ws.on('upgrade', (response) => {
        header = response.headers['sec-websocket-extensions'];
        if (header === undefined)
            header = '';
    });
    ws.on('open', () => {
        if (ws.extensions !== options.expectExtensions) {
            finish(false, `ws.extensions is ${JSON.stringify(ws.extensions)}, expected `
                   + `${JSON.stringify(options.expectExtensions)} (header `
                   + `${JSON.stringify(header)})`);
            return;
        }
        if (options.expectHeader !== null && header !== options.expectHeader) {
            finish(false, `Sec-WebSocket-Extensions is ${JSON.stringify(header)}, expected `
                   + `${JSON.stringify(options.expectHeader)}`);
            return;
        }
        for (const [data, binary] of sent)
            ws.send(data, { binary });
    });
    ws.on('message', (data, isBinary) => {
        if (finished)
            return;
        if (received >= expected.length) {
            finish(false, `an extra message: ${describe(data, isBinary)}`);
            return;
        }
        const [want, binary] = expected[received];
        if (isBinary !== binary || !Buffer.isBuffer(data) || !data.equals(want)) {
            finish(false, `echo ${received} is ${describe(data, isBinary)}, expected `
                   + `${describe(want, binary)} with the same bytes`);
            return;
        }
        ++received;
        if (received === expected.length) {
            finish(true, `${received} messages echoed in order over ${options.url}, `
                   + `perMessageDeflate ${JSON.stringify(perMessageDeflate)}, ws.extensions `
                   + `${JSON.stringify(ws.extensions)}, Sec-WebSocket-Extensions `
                   + `${JSON.stringify(header)}`);
        }
    });
    ws.on('unexpected-response', (request, response) => {
        finish(false, `the handshake got HTTP ${response.statusCode}`);
    });
    ws.on('error', (error) => finish(false, `error: ${error.message}`));
    ws.on('close', (code, reason) => {
        finish(false, `closed with ${code} ${JSON.stringify(reason.toString())} after `
               + `${received} of ${expected.length} echoes`);
    });
}

main();
