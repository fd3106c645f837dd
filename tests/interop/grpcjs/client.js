'use strict';
// The interop client cases on Node's @grpc/grpc-js, written by us per
// grpc/grpc doc/interop-test-descriptions.md, on grpc-js's own API.
//
//     node tests/interop/grpcjs/client.js --server_port=N --test_case=all
//
// Prints `PASS <case>` or `FAIL <case>: <why>` per case; exits 0 unless a
// case failed.
//
// Compression on grpc-js's client (checked in @grpc/grpc-js 1.14.7,
// build/src/compression-filter.js): a call compresses its messages when its
// channel has the `grpc.default_compression_algorithm` option (there is no
// per-call option, so compressed calls get a channel of their own), and one
// message goes out uncompressed when written with the NoCompress write flag
// (`call.write(message, WriteFlags.NoCompress)`). All four compression cases
// run in full except one check: grpc-js decompresses responses before the
// application sees them and strips `grpc-encoding` from the response
// metadata, so the server_compressed_* cases cannot see whether a response
// came compressed, which they check only "if supported by the
// implementation"; everything else of them is checked.

const common = require('./common');
const { grpc, check } = common;

const flags = common.parseFlags({
  server_host: 'localhost',
  server_port: '10000',
  test_case: 'large_unary',
  use_tls: 'false',
});
const testing = common.loadTesting();
const address = `${flags.server_host}:${flags.server_port}`;
const { status: Code } = grpc;

/** Per call that is not about deadlines. */
const TIMEOUT_MS = 20000;
/** `WriteFlags.NoCompress` of grpc-js's call-interface.ts: a `const enum`,
 * so it has no runtime export; its value is part of the write API. */
const NO_COMPRESS = 2;

const deadline = (ms = TIMEOUT_MS) => ({ deadline: Date.now() + ms });
const codeName = (code) => Object.keys(Code).find((k) => Code[k] === code) || String(code);

function checkPayload(p, size, what) {
  const body = p && p.body ? p.body : Buffer.alloc(0);
  check(body.length === size && body.every((b) => b === 0),
    `${what}: expected ${size} zero bytes, got ${body.length} bytes`);
}

function expectCode(status, want, what = 'call') {
  check(status.code === want,
    `${what}: expected ${codeName(want)}, got ${codeName(status.code)} ${JSON.stringify(status.details)}`);
}

function largeRequest(extra = {}) {
  return { response_size: 314159, payload: common.payload(271828), ...extra };
}

/**
 * Follows a call to its end: the response headers, the messages (streamed
 * ones and a unary/client-streaming response) and the status with its
 * trailers. `next()` waits for the next message (null once the call ended).
 */
class Follow {
  constructor() {
    this.headers = null;
    this.messages = [];
    this.status = null;
    this.waiters = [];
    this.read = 0;
    this.ended = new Promise((resolve) => { this.resolveEnded = resolve; });
  }

  /** The callback of a unary or client-streaming call. */
  get callback() {
    return (err, response) => {
      if (!err) {
        this.push(response);
      }
    };
  }

  attach(call) {
    this.call = call;
    call.on('metadata', (md) => { this.headers = md; });
    call.on('data', (m) => this.push(m));
    // A failed call also emits 'error'; the status says the same.
    call.on('error', () => {});
    call.on('status', (s) => {
      // Let messages already read be delivered first.
      setImmediate(() => {
        this.status = s;
        this.resolveEnded(s);
        for (const w of this.waiters.splice(0)) {
          w(null);
        }
      });
    });
    return this;
  }

  push(m) {
    this.messages.push(m);
    const w = this.waiters.shift();
    if (w) {
      w(this.messages[this.read++]);
    }
  }

  next() {
    if (this.read < this.messages.length) {
      return Promise.resolve(this.messages[this.read++]);
    }
    if (this.status) {
      return Promise.resolve(null);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

/** A unary call of `method` on `stub`; resolves when it ended. */
function unary(stub, method, request, metadata = new grpc.Metadata(), options = deadline()) {
  const f = new Follow();
  return f.attach(stub[method](request, metadata, options, f.callback)).ended.then(() => f);
}

/** A call whose one response must be OK. */
async function okResponse(f, what = 'call') {
  expectCode(f.status, Code.OK, what);
  check(f.messages.length === 1, `${what}: ${f.messages.length} responses`);
  return f.messages[0];
}

function echoMetadata() {
  const md = new grpc.Metadata();
  md.set(common.ECHO_INITIAL, common.INITIAL_VALUE);
  md.set(common.ECHO_TRAILING, common.TRAILING_VALUE);
  return md;
}

function checkEchoed(f) {
  const initial = f.headers ? f.headers.get(common.ECHO_INITIAL) : [];
  check(initial.length === 1 && initial[0] === common.INITIAL_VALUE,
    `${common.ECHO_INITIAL} in headers: ${JSON.stringify(initial)}`);
  const trailing = f.status.metadata ? f.status.metadata.get(common.ECHO_TRAILING) : [];
  check(trailing.length === 1 && Buffer.isBuffer(trailing[0]) && trailing[0].equals(common.TRAILING_VALUE),
    `${common.ECHO_TRAILING} in trailers: ${JSON.stringify(trailing)}`);
}

function sized(sizes) {
  return sizes.map((size) => ({ size }));
}

/** One case's clients: a channel each, as separate client runs would have. */
class Clients {
  constructor() {
    this.open = [];
  }

  make(Service, options = {}) {
    const c = new Service(address, grpc.credentials.createInsecure(), options);
    this.open.push(c);
    return c;
  }

  get test() {
    this._test = this._test || this.make(testing.TestService);
    return this._test;
  }

  /** A TestService client whose calls are gzip-compressed. */
  gzip() {
    return this.make(testing.TestService, {
      'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip,
    });
  }

  close() {
    for (const c of this.open) {
      c.close();
    }
  }
}

const cases = {
  async empty_unary(c) {
    const r = await okResponse(await unary(c.test, 'EmptyCall', {}));
    check(Object.keys(r).length === 0, `response is not empty: ${JSON.stringify(r)}`);
  },

  async large_unary(c) {
    const r = await okResponse(await unary(c.test, 'UnaryCall', largeRequest()));
    checkPayload(r.payload, 314159, 'response');
  },

  async client_streaming(c) {
    const f = new Follow();
    const call = f.attach(c.test.StreamingInputCall(deadline(), f.callback)).call;
    for (const n of [27182, 8, 1828, 45904]) {
      call.write({ payload: common.payload(n) });
    }
    call.end();
    await f.ended;
    const r = await okResponse(f);
    check(r.aggregated_payload_size === 74922, `aggregated ${r.aggregated_payload_size}`);
  },

  async server_streaming(c) {
    const sizes = [31415, 9, 2653, 58979];
    const f = new Follow().attach(
      c.test.StreamingOutputCall({ response_parameters: sized(sizes) }, deadline()));
    await f.ended;
    expectCode(f.status, Code.OK);
    check(f.messages.length === sizes.length, `${f.messages.length} responses`);
    sizes.forEach((s, i) => checkPayload(f.messages[i].payload, s, `response ${i + 1}`));
  },

  async ping_pong(c) {
    const sizes = [31415, 9, 2653, 58979];
    const payloads = [27182, 8, 1828, 45904];
    const f = new Follow().attach(c.test.FullDuplexCall(deadline()));
    for (let i = 0; i < sizes.length; i++) {
      f.call.write({ response_parameters: sized([sizes[i]]), payload: common.payload(payloads[i]) });
      const r = await f.next();
      check(r !== null, `the call ended before response ${i + 1}: ${JSON.stringify(f.status)}`);
      checkPayload(r.payload, sizes[i], `response ${i + 1}`);
    }
    f.call.end();
    check((await f.next()) === null, 'more responses than requests');
    expectCode(await f.ended, Code.OK);
  },

  async empty_stream(c) {
    const f = new Follow().attach(c.test.FullDuplexCall(deadline()));
    f.call.end();
    expectCode(await f.ended, Code.OK);
    check(f.messages.length === 0, `${f.messages.length} responses`);
  },

  async timeout_on_sleeping_server(c) {
    const f = new Follow().attach(c.test.FullDuplexCall(deadline(1)));
    f.call.write({ payload: common.payload(27182) });
    expectCode(await f.ended, Code.DEADLINE_EXCEEDED);
  },

  async cancel_after_begin(c) {
    const f = new Follow();
    f.attach(c.test.StreamingInputCall(deadline(), f.callback));
    f.call.cancel();
    expectCode(await f.ended, Code.CANCELLED);
  },

  async cancel_after_first_response(c) {
    const f = new Follow().attach(c.test.FullDuplexCall(deadline()));
    f.call.write({ response_parameters: sized([31415]), payload: common.payload(27182) });
    const r = await f.next();
    check(r !== null, `the call ended before its response: ${JSON.stringify(f.status)}`);
    checkPayload(r.payload, 31415, 'response');
    f.call.cancel();
    expectCode(await f.ended, Code.CANCELLED);
  },

  async custom_metadata(c) {
    const u = await unary(c.test, 'UnaryCall', largeRequest(), echoMetadata());
    checkPayload((await okResponse(u, 'unary')).payload, 314159, 'unary response');
    checkEchoed(u);
    const f = new Follow().attach(c.test.FullDuplexCall(echoMetadata(), deadline()));
    f.call.write({ response_parameters: sized([314159]), payload: common.payload(271828) });
    f.call.end();
    await f.ended;
    checkPayload((await okResponse(f, 'full duplex')).payload, 314159, 'full duplex response');
    checkEchoed(f);
  },

  async status_code_and_message(c) {
    await echoStatus(c, 'test status message', true);
  },

  async special_status_message(c) {
    await echoStatus(c, common.SPECIAL_MESSAGE, false);
  },

  async unimplemented_method(c) {
    expectCode((await unary(c.test, 'UnimplementedCall', {})).status, Code.UNIMPLEMENTED);
  },

  async unimplemented_service(c) {
    const stub = c.make(testing.UnimplementedService);
    expectCode((await unary(stub, 'UnimplementedCall', {})).status, Code.UNIMPLEMENTED);
  },

  async client_compressed_unary(c) {
    const expecting = (value) => largeRequest({ expect_compressed: { value } });
    // The probe: an uncompressed message that claims to be compressed must
    // be refused, or the server checks nothing.
    const probe = await unary(c.test, 'UnaryCall', expecting(true));
    expectCode(probe.status, Code.INVALID_ARGUMENT, 'probe');
    const gz = await unary(c.gzip(), 'UnaryCall', expecting(true));
    checkPayload((await okResponse(gz, 'compressed call')).payload, 314159, 'compressed call');
    const plain = await unary(c.test, 'UnaryCall', expecting(false));
    checkPayload((await okResponse(plain, 'uncompressed call')).payload, 314159, 'uncompressed call');
  },

  async server_compressed_unary(c) {
    for (const value of [true, false]) {
      const f = await unary(c.test, 'UnaryCall', largeRequest({ response_compressed: { value } }));
      checkPayload((await okResponse(f)).payload, 314159, `response (compressed=${value})`);
    }
  },

  async client_compressed_streaming(c) {
    const req = (n, value) => ({ payload: common.payload(n), expect_compressed: { value } });
    const probe = new Follow();
    probe.attach(c.test.StreamingInputCall(deadline(), probe.callback));
    probe.call.write(req(27182, true));
    probe.call.end();
    expectCode(await probe.ended, Code.INVALID_ARGUMENT, 'probe');

    const f = new Follow();
    f.attach(c.gzip().StreamingInputCall(deadline(), f.callback));
    f.call.write(req(27182, true));
    f.call.write(req(45904, false), NO_COMPRESS);
    f.call.end();
    await f.ended;
    const r = await okResponse(f);
    check(r.aggregated_payload_size === 73086, `aggregated ${r.aggregated_payload_size}`);
  },

  async server_compressed_streaming(c) {
    const f = new Follow().attach(c.test.StreamingOutputCall({
      response_parameters: [
        { size: 31415, compressed: { value: true } },
        { size: 92653, compressed: { value: false } },
      ],
    }, deadline()));
    await f.ended;
    expectCode(f.status, Code.OK);
    check(f.messages.length === 2, `${f.messages.length} responses`);
    checkPayload(f.messages[0].payload, 31415, 'response 1');
    checkPayload(f.messages[1].payload, 92653, 'response 2');
  },
};

async function echoStatus(c, message, duplex) {
  const echo = { code: 2, message };
  const same = (status) => {
    expectCode(status, Code.UNKNOWN);
    check(status.details === message, `message ${JSON.stringify(status.details)}`);
  };
  same((await unary(c.test, 'UnaryCall', { response_status: echo })).status);
  if (duplex) {
    const f = new Follow().attach(c.test.FullDuplexCall(deadline()));
    f.call.write({ response_status: echo });
    f.call.end();
    same(await f.ended);
  }
}

async function main() {
  let names;
  if (flags.test_case === 'all') {
    names = common.CASES;
  } else if (common.CASES.includes(flags.test_case)) {
    names = [flags.test_case];
  } else {
    common.fatal(`unknown test case ${flags.test_case}`);
  }
  let ok = true;
  for (const name of names) {
    const clients = new Clients();
    try {
      ok = (await common.report(name, () => cases[name](clients))) && ok;
    } finally {
      clients.close();
    }
  }
  return ok ? 0 : 1;
}

main().then((rc) => process.exit(rc), (e) => {
  process.stderr.write(`client.js: ${e && e.stack}\n`);
  process.exit(1);
});
