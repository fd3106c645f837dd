'use strict';
// What the grpc-js interop peers share: our protos loaded with
// @grpc/proto-loader, command-line flags, the case list, payloads and
// reporting (the same PASS / FAIL lines as tests/interop/common.py).

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const ROOT = path.resolve(__dirname, '..', '..', '..');

const CASES = [
  'empty_unary',
  'large_unary',
  'client_streaming',
  'server_streaming',
  'ping_pong',
  'empty_stream',
  'timeout_on_sleeping_server',
  'cancel_after_begin',
  'cancel_after_first_response',
  'custom_metadata',
  'status_code_and_message',
  'special_status_message',
  'unimplemented_method',
  'unimplemented_service',
  'client_compressed_unary',
  'server_compressed_unary',
  'client_compressed_streaming',
  'server_compressed_streaming',
];

const ECHO_INITIAL = 'x-grpc-test-echo-initial';
const ECHO_TRAILING = 'x-grpc-test-echo-trailing-bin';
const INITIAL_VALUE = 'test_initial_metadata_value';
const TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);
const SPECIAL_MESSAGE =
  '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1f608}\t\n';

/** `grpc.testing` from examples/proto, field names as in the .proto files. */
function loadTesting() {
  const definition = protoLoader.loadSync('grpc/testing/test.proto', {
    includeDirs: [path.join(ROOT, 'examples', 'proto')],
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).grpc.testing;
}

/** `--name=value` flags; `defaults` names the known ones. */
function parseFlags(defaults) {
  const flags = { ...defaults };
  for (const arg of process.argv.slice(2)) {
    const m = /^--([a-z_]+)=(.*)$/.exec(arg);
    if (!m || !(m[1] in flags)) {
      fatal(`unknown argument ${arg}`);
    }
    flags[m[1]] = m[2];
  }
  if (flags.use_tls !== 'false') {
    fatal('only --use_tls=false is supported');
  }
  return flags;
}

function fatal(why) {
  process.stderr.write(`${path.basename(process.argv[1])}: ${why}\n`);
  process.exit(2);
}

/** A COMPRESSABLE payload of `size` zero bytes. */
function payload(size) {
  return { type: 'COMPRESSABLE', body: Buffer.alloc(size) };
}

/** The case failed; the message says how. */
class Failed extends Error {}

function check(cond, why) {
  if (!cond) {
    throw new Failed(why);
  }
}

/** Runs `run()`, prints PASS / FAIL for `name`; false on FAIL. */
async function report(name, run) {
  try {
    await run();
  } catch (e) {
    const why = e instanceof Failed ? e.message : `${e && e.constructor && e.constructor.name}: ${e && e.message}`;
    console.log(`FAIL ${name}: ${why.replace(/\n/g, ' ')}`);
    return false;
  }
  console.log(`PASS ${name}`);
  return true;
}

module.exports = {
  CASES,
  ECHO_INITIAL,
  ECHO_TRAILING,
  INITIAL_VALUE,
  TRAILING_VALUE,
  SPECIAL_MESSAGE,
  Failed,
  check,
  fatal,
  grpc,
  loadTesting,
  parseFlags,
  payload,
  report,
};
