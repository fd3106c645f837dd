'use strict';
// An interop TestService server on Node's @grpc/grpc-js, written by us per
// grpc/grpc doc/interop-test-descriptions.md, on grpc-js's own API.
//
//     node tests/interop/grpcjs/server.js --port=0
//
// Prints `LISTENING <port>` once serving; runs until killed.
//
// What grpc-js's server does not do (checked in @grpc/grpc-js 1.14.7,
// build/src/server-interceptors.js): compress a response. Every message goes
// out with the Compressed-Flag clear ("response compression is currently not
// supported"), framed by the call's `serializeMessage(value)`, and the
// response headers say `grpc-encoding: identity` unless the metadata given
// to `sendMetadata` says otherwise (it is merged over those defaults). So
// `compression` below adds it, on the call object grpc-js hands the first
// server interceptor: its `serializeMessage` is wrapped so that a response
// the handler marked with COMPRESS is gzip'd by Node's zlib (`gzipSync` of
// the bytes grpc-js serialized) and framed with the flag set, on a call whose
// response headers said `grpc-encoding: gzip` (the handler sets it in the
// metadata it sends; a marked response on any other call fails the call).
// The headers, HTTP/2 and flow control stay grpc-js's and Node's. grpc-js
// drops the client's `grpc-accept-encoding` before the call sees its
// metadata, so it is not checked: a response is compressed when the request
// asks for it (`response_compressed`, `ResponseParameters.compressed`).
//
// Nor does its API say whether a request message came compressed, which
// `expect_compressed` needs: it inflates before the handler runs and keeps
// the flag to itself. `compression` sees it anyway: each message is inflated
// by the call's `decompressMessage(message, encoding)`, called in message
// order with 'identity' for a message whose flag is clear; the interceptor
// notes each encoding and marks the message when it reaches the handler. The
// inflating stays grpc-js's own.

const zlib = require('zlib');

const common = require('./common');
const { grpc } = common;

const flags = common.parseFlags({ port: '10000', use_tls: 'false' });
const testing = common.loadTesting();

/** Set on a request message that came compressed. */
const CAME_COMPRESSED = Symbol('came compressed');
/** Set by a handler on a response message to be sent compressed. */
const COMPRESS = Symbol('compress');

/** The server interceptor described at the top. */
function compression(method, call) {
  const inflate = call.decompressMessage;
  const serialize = call.serializeMessage;
  if (typeof inflate !== 'function' || typeof serialize !== 'function') {
    common.fatal('this grpc-js has no decompressMessage or serializeMessage on its server call: update the interceptor');
  }
  const flags = [];
  call.decompressMessage = function (message, encoding) {
    flags.push(encoding !== 'identity');
    return inflate.call(this, message, encoding);
  };
  let gzip = false; // the response headers said grpc-encoding: gzip
  call.serializeMessage = function (value) {
    const framed = serialize.call(this, value);
    if (value === null || typeof value !== 'object' || !value[COMPRESS]) {
      return framed;
    }
    if (!gzip) {
      throw new Error('a response to compress on a call whose headers did not say grpc-encoding: gzip');
    }
    const body = zlib.gzipSync(framed.subarray(5));
    const out = Buffer.alloc(5 + body.length);
    out.writeUInt8(1, 0);
    out.writeUInt32BE(body.length, 1);
    body.copy(out, 5);
    return out;
  };
  return new grpc.ServerInterceptingCall(call, {
    sendMetadata(metadata, next) {
      gzip = metadata.get('grpc-encoding')[0] === 'gzip';
      next(metadata);
    },
    start(next) {
      next({
        onReceiveMessage(message, deliver) {
          if (message !== null && typeof message === 'object' && flags.shift()) {
            message[CAME_COMPRESSED] = true;
          }
          deliver(message);
        },
      });
    },
  });
}

/** INVALID_ARGUMENT when `req.expect_compressed` is set and does not match
 * how `req` came; null otherwise. */
function compressionMismatch(req) {
  if (!req.expect_compressed) {
    return null;
  }
  const want = !!req.expect_compressed.value;
  const got = !!req[CAME_COMPRESSED];
  if (want === got) {
    return null;
  }
  return {
    code: grpc.status.INVALID_ARGUMENT,
    details: `expected compressed=${want}, got compressed=${got}`,
  };
}

/** Echoes the test's initial metadata in the response headers, which say
 * `grpc-encoding: gzip` if `gzip` (then responses marked COMPRESS are
 * compressed); returns the trailing metadata to end the call with (the
 * echoed binary entry). */
function echoMetadata(call, gzip = false) {
  const initial = call.metadata.get(common.ECHO_INITIAL);
  if (initial.length > 0 || gzip) {
    const md = new grpc.Metadata();
    if (initial.length > 0) {
      md.set(common.ECHO_INITIAL, initial[0]);
    }
    if (gzip) {
      md.set('grpc-encoding', 'gzip');
    }
    call.sendMetadata(md);
  }
  const trailer = new grpc.Metadata();
  const trailing = call.metadata.get(common.ECHO_TRAILING);
  if (trailing.length > 0) {
    trailer.set(common.ECHO_TRAILING, trailing[0]);
  }
  return trailer;
}

/** The status an EchoStatus asks for, with `trailer`; null for none. */
function echoStatus(status, trailer) {
  if (!status || !status.code) {
    return null;
  }
  return { code: status.code, details: status.message || '', metadata: trailer };
}

const isTrue = (b) => !!(b && b.value);

const sleep = (us) => new Promise((resolve) => setTimeout(resolve, us / 1000));

/** Writes the responses one StreamingOutputCallRequest asks for, waiting
 * `interval_us` before each, compressed as asked (the call's headers say
 * gzip: echoMetadata(call, true)); stops early if the call was cancelled. */
async function streamResponses(call, req) {
  for (const p of req.response_parameters || []) {
    if (p.interval_us) {
      await sleep(p.interval_us);
    }
    if (call.cancelled) {
      return;
    }
    call.write({ payload: common.payload(p.size || 0), [COMPRESS]: isTrue(p.compressed) });
  }
}

const service = {
  EmptyCall(call, callback) {
    callback(null, {}, echoMetadata(call));
  },

  UnaryCall(call, callback) {
    const req = call.request;
    const compress = isTrue(req.response_compressed);
    const trailer = echoMetadata(call, compress);
    const mismatch = compressionMismatch(req);
    if (mismatch) {
      callback(mismatch);
      return;
    }
    const status = echoStatus(req.response_status, trailer);
    if (status) {
      callback(status);
      return;
    }
    callback(null, { payload: common.payload(req.response_size || 0), [COMPRESS]: compress }, trailer);
  },

  CacheableUnaryCall(call, callback) {
    service.UnaryCall(call, callback);
  },

  StreamingOutputCall(call) {
    const trailer = echoMetadata(call, true);
    streamResponses(call, call.request).then(() => {
      const status = echoStatus(call.request.response_status, trailer);
      if (status) {
        call.emit('error', status);
      } else {
        call.end(trailer);
      }
    });
  },

  StreamingInputCall(call, callback) {
    const trailer = echoMetadata(call);
    let total = 0;
    let failed = null;
    call.on('data', (req) => {
      failed = failed || compressionMismatch(req);
      total += req.payload && req.payload.body ? req.payload.body.length : 0;
    });
    call.on('end', () => {
      if (failed) {
        callback(failed);
      } else {
        callback(null, { aggregated_payload_size: total }, trailer);
      }
    });
  },

  FullDuplexCall(call) {
    const trailer = echoMetadata(call, true);
    // Requests are answered in order, each after the previous one's delays.
    let chain = Promise.resolve();
    let ended = false;
    call.on('data', (req) => {
      chain = chain.then(async () => {
        if (ended) {
          return;
        }
        await streamResponses(call, req);
        const status = echoStatus(req.response_status, trailer);
        if (status && !ended) {
          ended = true;
          call.emit('error', status);
        }
      });
    });
    call.on('end', () => {
      chain = chain.then(() => {
        if (!ended) {
          ended = true;
          call.end(trailer);
        }
      });
    });
  },

  HalfDuplexCall(call) {
    const trailer = echoMetadata(call, true);
    const held = [];
    call.on('data', (req) => held.push(req));
    call.on('end', async () => {
      for (const req of held) {
        await streamResponses(call, req);
      }
      call.end(trailer);
    });
  },

  // UnimplementedCall is left out: grpc-js answers it with UNIMPLEMENTED.
};

const server = new grpc.Server({ interceptors: [compression] });
server.addService(testing.TestService.service, service);
server.bindAsync(`127.0.0.1:${flags.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    common.fatal(`cannot listen: ${err.message}`);
  }
  console.log(`LISTENING ${port}`);
});
