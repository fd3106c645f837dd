'use strict';
// An interop TestService server on Node's @grpc/grpc-js, written by us per
// grpc/grpc doc/interop-test-descriptions.md, on grpc-js's own API.
//
//     node tests/interop/grpcjs/server.js --port=0
//
// Prints `LISTENING <port>` once serving; runs until killed.
//
// What grpc-js's server cannot do (checked in @grpc/grpc-js 1.14.7,
// build/src/server-interceptors.js): compress a response. Every message goes
// out with the Compressed-Flag clear ("response compression is currently not
// supported") and the response headers say `grpc-encoding: identity`, so
// `response_compressed` and `ResponseParameters.compressed` cannot be
// honoured: the server_compressed_* cases are not applicable against this
// server, and every response it sends is uncompressed.
//
// Nor does its API say whether a request message came compressed, which
// `expect_compressed` needs: it inflates before the handler runs and keeps
// the flag to itself. `observeCompression` below sees it anyway, on the
// call object grpc-js hands the first server interceptor: each message is
// inflated by that call's `decompressMessage(message, encoding)`, called in
// message order with 'identity' for a message whose flag is clear; the
// interceptor notes each encoding and marks the message when it reaches the
// handler. The inflating stays grpc-js's own.

const common = require('./common');
const { grpc } = common;

const flags = common.parseFlags({ port: '10000', use_tls: 'false' });
const testing = common.loadTesting();

/** Set on a request message that came compressed. */
const CAME_COMPRESSED = Symbol('came compressed');

/** The server interceptor described at the top. */
function observeCompression(method, call) {
  const inflate = call.decompressMessage;
  if (typeof inflate !== 'function') {
    common.fatal('this grpc-js has no decompressMessage on its server call: update the interceptor');
  }
  const flags = [];
  call.decompressMessage = function (message, encoding) {
    flags.push(encoding !== 'identity');
    return inflate.call(this, message, encoding);
  };
  return new grpc.ServerInterceptingCall(call, {
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

/** Echoes the test's initial metadata in the response headers; returns
 * the trailing metadata to end the call with (the echoed binary entry). */
function echoMetadata(call) {
  const initial = call.metadata.get(common.ECHO_INITIAL);
  if (initial.length > 0) {
    const md = new grpc.Metadata();
    md.set(common.ECHO_INITIAL, initial[0]);
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

const sleep = (us) => new Promise((resolve) => setTimeout(resolve, us / 1000));

/** Writes the responses one StreamingOutputCallRequest asks for, waiting
 * `interval_us` before each; stops early if the call was cancelled. */
async function streamResponses(call, req) {
  for (const p of req.response_parameters || []) {
    if (p.interval_us) {
      await sleep(p.interval_us);
    }
    if (call.cancelled) {
      return;
    }
    call.write({ payload: common.payload(p.size || 0) });
  }
}

const service = {
  EmptyCall(call, callback) {
    callback(null, {}, echoMetadata(call));
  },

  UnaryCall(call, callback) {
    const trailer = echoMetadata(call);
    const req = call.request;
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
    callback(null, { payload: common.payload(req.response_size || 0) }, trailer);
  },

  CacheableUnaryCall(call, callback) {
    service.UnaryCall(call, callback);
  },

  StreamingOutputCall(call) {
    const trailer = echoMetadata(call);
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
    const trailer = echoMetadata(call);
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
    const trailer = echoMetadata(call);
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

const server = new grpc.Server({ interceptors: [observeCompression] });
server.addService(testing.TestService.service, service);
server.bindAsync(`127.0.0.1:${flags.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    common.fatal(`cannot listen: ${err.message}`);
  }
  console.log(`LISTENING ${port}`);
});
