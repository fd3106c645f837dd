//! Server reflection over the in-memory pair, through the generated client
//! stubs. The descriptors served are this crate's own (health, reflection)
//! and `tests/data/reflection_test.bin`, the set of
//! `codegen/test-crate/proto/reflection_test/` (kept up to date by
//! `codegen/test-crate/tests/reflection_generated.rs`): `top.proto` imports
//! `middle.proto` and `base.proto`, `middle.proto` imports `base.proto`;
//! both extend `rt.base.Base` (numbers 100 and 101).
#![cfg(feature = "reflection")]

use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::codec;
use grpc_sansio::grpc::{CallId, Code, Status};
use grpc_sansio::services::health;
use grpc_sansio::services::reflection::v1::server_reflection::{self, ServerReflectionClient};
use grpc_sansio::services::reflection::v1::server_reflection_request::MessageRequest;
use grpc_sansio::services::reflection::v1::server_reflection_response::MessageResponse;
use grpc_sansio::services::reflection::v1::{
    ExtensionRequest, ServerReflectionRequest, ServerReflectionResponse,
};
use grpc_sansio::services::reflection::{self, ReflectionService, v1alpha};
use grpc_sansio::testing::Pair;
use grpc_sansio::{client, server};
use prost::Message;

const CONN: u64 = 1;
const TEST_SET: &[u8] = include_bytes!("data/reflection_test.bin");

/// The name of an encoded `google.protobuf.FileDescriptorProto`.
#[derive(Clone, PartialEq, Message)]
struct FileName {
    #[prost(string, tag = "1")]
    name: String,
}

/// An encoded `google.protobuf.FileDescriptorSet`'s files.
#[derive(Clone, PartialEq, Message)]
struct FileSet {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    file: Vec<Bytes>,
}

fn pair() -> Pair {
    Pair::new(
        client::Config::default(),
        server::Config::default(),
        Instant::now(),
    )
}

/// The service with the test set, health's and its own registered.
fn service() -> ReflectionService {
    let mut r = ReflectionService::new();
    r.add_file_descriptor_set(TEST_SET).unwrap();
    r.add_file_descriptor_set(health::FILE_DESCRIPTOR_SET)
        .unwrap();
    r.add_file_descriptor_set(reflection::FILE_DESCRIPTOR_SET)
        .unwrap();
    r
}

/// Drives until quiet; reflection calls go to `r`, anything else is
/// UNIMPLEMENTED.
fn run(p: &mut Pair, r: &mut ReflectionService) {
    loop {
        assert!(p.drive(), "livelock");
        if p.server_events.is_empty() {
            return;
        }
        while let Some(ev) = p.server_events.pop_front() {
            if r.handle_event(CONN, &mut p.server, &ev) {
                continue;
            }
            if let server::Event::Call { call, path, .. } = ev {
                let status = codec::route_unimplemented(&path, &reflection::SERVICE_NAMES);
                p.server.reject(call, status).unwrap();
            }
        }
    }
}

/// Opens a v1 reflection call.
fn open(p: &mut Pair) -> CallId {
    ServerReflectionClient::server_reflection_info(
        &mut p.client,
        server_reflection::SERVER_REFLECTION_INFO.request(),
        p.now,
    )
    .unwrap()
}

fn request(r: MessageRequest) -> ServerReflectionRequest {
    ServerReflectionRequest {
        host: "shop.example".into(),
        message_request: Some(r),
    }
}

fn send(p: &mut Pair, call: CallId, r: MessageRequest) {
    ServerReflectionClient::send_server_reflection_info(&mut p.client, call, &request(r)).unwrap();
}

/// Takes the responses a call received so far, decoded.
fn received(p: &mut Pair, call: CallId) -> Vec<ServerReflectionResponse> {
    let mut out = Vec::new();
    p.client_events.retain(|e| match e {
        client::Event::Message { call: c, data } if *c == call => {
            out.push(ServerReflectionClient::decode_server_reflection_info(data.clone()).unwrap());
            false
        }
        _ => true,
    });
    out
}

/// The call's final status, if it ended.
fn ended(p: &Pair, call: CallId) -> Option<Status> {
    p.client_events.iter().find_map(|e| match e {
        client::Event::Status {
            call: c, status, ..
        } if *c == call => Some(status.clone()),
        _ => None,
    })
}

/// Asks one question on a fresh call, half-closes, and returns the one
/// answer (checking the call ended with OK).
fn ask(p: &mut Pair, r: &mut ReflectionService, q: MessageRequest) -> MessageResponse {
    let call = open(p);
    send(p, call, q.clone());
    p.client.half_close(call).unwrap();
    run(p, r);
    let mut got = received(p, call);
    assert_eq!(got.len(), 1);
    assert!(ended(p, call).expect("ended").is_ok());
    let response = got.pop().unwrap();
    assert_eq!(response.valid_host, "shop.example");
    assert_eq!(response.original_request, Some(request(q)));
    response.message_response.expect("a response")
}

/// The names of the files of a file descriptor response.
fn file_names(response: &MessageResponse) -> Vec<String> {
    match response {
        MessageResponse::FileDescriptorResponse(f) => f
            .file_descriptor_proto
            .iter()
            .map(|b| FileName::decode(b.clone()).unwrap().name)
            .collect(),
        other => panic!("not files: {other:?}"),
    }
}

fn error_code(response: &MessageResponse) -> Code {
    match response {
        MessageResponse::ErrorResponse(e) => Code::from_i32(e.error_code),
        other => panic!("not an error: {other:?}"),
    }
}

fn symbol(s: &str) -> MessageRequest {
    MessageRequest::FileContainingSymbol(s.into())
}

fn list() -> MessageRequest {
    MessageRequest::ListServices(String::new())
}

const TOP: &str = "reflection_test/top.proto";
const MIDDLE: &str = "reflection_test/middle.proto";
const BASE: &str = "reflection_test/base.proto";

#[test]
fn list_services_names_every_registered_service() {
    let mut p = pair();
    let mut r = service();
    let MessageResponse::ListServicesResponse(l) = ask(&mut p, &mut r, list()) else {
        panic!("not a list");
    };
    let names: Vec<&str> = l.service.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "rt.top.Shop",
        ]
    );

    // The application names what it serves.
    r.set_services(["rt.top.Shop", "shop.Cart"]);
    let MessageResponse::ListServicesResponse(l) = ask(&mut p, &mut r, list()) else {
        panic!("not a list");
    };
    let names: Vec<&str> = l.service.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["rt.top.Shop", "shop.Cart"]);
    assert_eq!(p.server.active_calls(), 0);
    assert_eq!(r.calls(), 0);
}

#[test]
fn file_by_filename_sends_the_file_then_its_dependencies() {
    let mut p = pair();
    let mut r = service();
    let got = ask(&mut p, &mut r, MessageRequest::FileByFilename(TOP.into()));
    assert_eq!(file_names(&got), [TOP, MIDDLE, BASE]);
    // Each file is the registered bytes, unchanged.
    let set = FileSet::decode(TEST_SET).unwrap();
    let MessageResponse::FileDescriptorResponse(f) = &got else {
        unreachable!()
    };
    for b in &f.file_descriptor_proto {
        assert!(set.file.contains(b));
    }

    let got = ask(
        &mut p,
        &mut r,
        MessageRequest::FileByFilename(MIDDLE.into()),
    );
    assert_eq!(file_names(&got), [MIDDLE, BASE]);
    let got = ask(
        &mut p,
        &mut r,
        MessageRequest::FileByFilename("grpc/health/v1/health.proto".into()),
    );
    assert_eq!(file_names(&got), ["grpc/health/v1/health.proto"]);
    let got = ask(
        &mut p,
        &mut r,
        MessageRequest::FileByFilename("nope.proto".into()),
    );
    assert_eq!(error_code(&got), Code::NotFound);
}

#[test]
fn symbols_of_every_kind() {
    let mut p = pair();
    let mut r = service();
    let cases = [
        ("rt.top.Shop", vec![TOP, MIDDLE, BASE]),
        ("rt.top.Shop.Buy", vec![TOP, MIDDLE, BASE]),
        ("rt.top.Holder", vec![TOP, MIDDLE, BASE]),
        ("rt.top.Holder.count", vec![TOP, MIDDLE, BASE]),
        ("rt.middle.Middle", vec![MIDDLE, BASE]),
        ("rt.middle.Middle.Inner", vec![MIDDLE, BASE]),
        ("rt.middle.Middle.Inner.Kind", vec![MIDDLE, BASE]),
        ("rt.middle.Middle.Inner.KIND_B", vec![MIDDLE, BASE]),
        ("rt.middle.Middle.choice", vec![MIDDLE, BASE]),
        ("rt.middle.Middle.name", vec![MIDDLE, BASE]),
        ("rt.middle.note", vec![MIDDLE, BASE]),
        ("rt.base.Base", vec![BASE]),
        ("rt.base.Color", vec![BASE]),
        ("rt.base.GREEN", vec![BASE]),
        (".rt.base.Base", vec![BASE]),
        (
            "grpc.health.v1.Health.Watch",
            vec!["grpc/health/v1/health.proto"],
        ),
        (
            "grpc.reflection.v1alpha.ServerReflection",
            vec!["grpc/reflection/v1alpha/reflection.proto"],
        ),
    ];
    for (name, files) in cases {
        assert_eq!(
            file_names(&ask(&mut p, &mut r, symbol(name))),
            files,
            "{name}"
        );
    }
    for missing in ["rt.base", "rt.top.Shop.Sell", "Shop", "rt.middle.Inner", ""] {
        let got = ask(&mut p, &mut r, symbol(missing));
        assert_eq!(error_code(&got), Code::NotFound, "{missing}");
    }
}

#[test]
fn extension_lookups() {
    let mut p = pair();
    let mut r = service();
    let ext = |number| {
        MessageRequest::FileContainingExtension(ExtensionRequest {
            containing_type: "rt.base.Base".into(),
            extension_number: number,
        })
    };
    assert_eq!(file_names(&ask(&mut p, &mut r, ext(100))), [MIDDLE, BASE]);
    assert_eq!(
        file_names(&ask(&mut p, &mut r, ext(101))),
        [TOP, MIDDLE, BASE]
    );
    assert_eq!(error_code(&ask(&mut p, &mut r, ext(102))), Code::NotFound);

    let numbers = |p: &mut Pair, r: &mut ReflectionService, ty: &str| match ask(
        p,
        r,
        MessageRequest::AllExtensionNumbersOfType(ty.into()),
    ) {
        MessageResponse::AllExtensionNumbersResponse(n) => {
            assert_eq!(n.base_type_name, ty);
            Ok(n.extension_number)
        }
        other => Err(error_code(&other)),
    };
    assert_eq!(numbers(&mut p, &mut r, "rt.base.Base"), Ok(vec![100, 101]));
    assert_eq!(numbers(&mut p, &mut r, "rt.middle.Middle"), Ok(vec![]));
    assert_eq!(numbers(&mut p, &mut r, "rt.base.Nope"), Err(Code::NotFound));
    // A service is not a message type.
    assert_eq!(numbers(&mut p, &mut r, "rt.top.Shop"), Err(Code::NotFound));
}

#[test]
fn unknown_lookups_are_not_found_and_the_stream_goes_on() {
    let mut p = pair();
    let mut r = service();
    let call = open(&mut p);
    send(&mut p, call, symbol("rt.nope.Thing"));
    run(&mut p, &mut r);
    let got = received(&mut p, call);
    assert_eq!(got.len(), 1);
    let e = match got[0].message_response.as_ref().unwrap() {
        MessageResponse::ErrorResponse(e) => e.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(e.error_code, 5);
    assert!(
        e.error_message.contains("rt.nope.Thing"),
        "{}",
        e.error_message
    );
    assert!(ended(&p, call).is_none(), "the call stays open");

    send(&mut p, call, symbol("rt.base.Base"));
    run(&mut p, &mut r);
    let got = received(&mut p, call);
    assert_eq!(got.len(), 1);
    assert_eq!(
        file_names(got[0].message_response.as_ref().unwrap()),
        [BASE]
    );
    assert!(ended(&p, call).is_none());

    // End of the client's stream: OK.
    p.client.half_close(call).unwrap();
    run(&mut p, &mut r);
    assert!(ended(&p, call).unwrap().is_ok());
    assert_eq!(r.calls(), 0);
}

/// Several requests sent at once; the answers come in order.
fn pipelined(p: &mut Pair, r: &mut ReflectionService) {
    let questions = [
        list(),
        MessageRequest::FileByFilename(TOP.into()),
        symbol("rt.nope"),
        symbol("rt.middle.Middle.Inner"),
        MessageRequest::AllExtensionNumbersOfType("rt.base.Base".into()),
        MessageRequest::FileByFilename(TOP.into()),
    ];
    let call = open(p);
    for q in &questions {
        send(p, call, q.clone());
    }
    p.client.half_close(call).unwrap();
    run(p, r);
    let got = received(p, call);
    let asked: Vec<_> = got.iter().map(|g| g.original_request.clone()).collect();
    let expected: Vec<_> = questions.iter().map(|q| Some(request(q.clone()))).collect();
    assert_eq!(asked, expected);
    let answer = |i: usize| got[i].message_response.as_ref().unwrap();
    assert!(matches!(
        answer(0),
        MessageResponse::ListServicesResponse(_)
    ));
    assert_eq!(file_names(answer(1)), [TOP, MIDDLE, BASE]);
    assert_eq!(error_code(answer(2)), Code::NotFound);
    assert_eq!(file_names(answer(3)), [MIDDLE, BASE]);
    assert!(matches!(
        answer(4),
        MessageResponse::AllExtensionNumbersResponse(_)
    ));
    // Files sent before on the stream are sent again.
    assert_eq!(file_names(answer(5)), [TOP, MIDDLE, BASE]);
    assert!(ended(p, call).unwrap().is_ok());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut p = pair();
    let mut r = service();
    pipelined(&mut p, &mut r);
}

#[test]
fn one_byte_at_a_time() {
    let mut p = pair();
    p.split = 1;
    let mut r = service();
    pipelined(&mut p, &mut r);
}

#[test]
fn the_v1alpha_path_works() {
    use v1alpha::server_reflection::{self as alpha, ServerReflectionClient as AlphaClient};
    use v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use v1alpha::server_reflection_response::MessageResponse as AlphaResponse;

    let mut p = pair();
    let mut r = service();
    let call = AlphaClient::server_reflection_info(
        &mut p.client,
        alpha::SERVER_REFLECTION_INFO.request(),
        p.now,
    )
    .unwrap();
    let q = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::FileContainingSymbol(
            "rt.top.Shop.Browse".into(),
        )),
    };
    AlphaClient::send_server_reflection_info(&mut p.client, call, &q).unwrap();
    p.client.half_close(call).unwrap();
    run(&mut p, &mut r);
    let got: Vec<v1alpha::ServerReflectionResponse> = p
        .client_events
        .iter()
        .filter_map(|e| match e {
            client::Event::Message { call: c, data } if *c == call => {
                Some(AlphaClient::decode_server_reflection_info(data.clone()).unwrap())
            }
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].original_request.as_ref(), Some(&q));
    let Some(AlphaResponse::FileDescriptorResponse(f)) = &got[0].message_response else {
        panic!("{:?}", got[0]);
    };
    assert_eq!(f.file_descriptor_proto.len(), 3);
    assert!(ended(&p, call).unwrap().is_ok());
    assert!(ReflectionService::handles(
        alpha::SERVER_REFLECTION_INFO.path
    ));
    assert!(!ReflectionService::handles(
        "/grpc.reflection.v1alpha.ServerReflection/Other"
    ));
}

#[test]
fn a_request_with_nothing_asked_ends_the_call_with_invalid_argument() {
    let mut p = pair();
    let mut r = service();
    let call = open(&mut p);
    send(&mut p, call, list());
    ServerReflectionClient::send_server_reflection_info(
        &mut p.client,
        call,
        &ServerReflectionRequest::default(),
    )
    .unwrap();
    run(&mut p, &mut r);
    assert_eq!(received(&mut p, call).len(), 1);
    assert_eq!(ended(&p, call).unwrap().code, Code::InvalidArgument);
    assert_eq!(r.calls(), 0);

    // Bytes that are not a request: INTERNAL.
    let call = open(&mut p);
    p.client
        .send_message(call, Bytes::from_static(&[0xff]))
        .unwrap();
    run(&mut p, &mut r);
    assert_eq!(ended(&p, call).unwrap().code, Code::Internal);
    assert_eq!(r.calls(), 0);
}

/// A pair whose client's stream window stays at the initial 64 KiB and
/// whose server's per-call send buffer is small, so that a client that
/// stops reading soon blocks a reflection call.
fn small_buffer_pair() -> Pair {
    let mut client = client::Config::default();
    client.h2.stream_window = 65_535;
    let mut server = server::Config::default();
    server.h2.max_send_buffer = 4096;
    Pair::new(client, server, Instant::now())
}

const FLOOD: usize = 60;

#[test]
fn held_back_answers_are_sent_when_the_client_reads_again() {
    let mut p = small_buffer_pair();
    let mut r = service().with_max_backlog(FLOOD);
    let call = open(&mut p);
    run(&mut p, &mut r);
    p.client_reads = false;
    for _ in 0..FLOOD {
        send(&mut p, call, MessageRequest::FileByFilename(TOP.into()));
    }
    p.client.half_close(call).unwrap();
    run(&mut p, &mut r);
    assert!(ended(&p, call).is_none());
    assert_eq!(r.calls(), 1, "the call waits with answers held back");

    p.client_reads = true;
    run(&mut p, &mut r);
    let got = received(&mut p, call);
    assert_eq!(got.len(), FLOOD);
    for g in &got {
        assert_eq!(
            file_names(g.message_response.as_ref().unwrap()),
            [TOP, MIDDLE, BASE]
        );
    }
    assert!(ended(&p, call).unwrap().is_ok());
    assert_eq!(r.calls(), 0);
}

#[test]
fn a_client_that_never_reads_overflows_the_backlog() {
    let mut p = small_buffer_pair();
    let mut r = service().with_max_backlog(2);
    let call = open(&mut p);
    run(&mut p, &mut r);
    p.client_reads = false;
    for _ in 0..FLOOD {
        send(&mut p, call, MessageRequest::FileByFilename(TOP.into()));
    }
    run(&mut p, &mut r);
    assert_eq!(r.calls(), 0, "the call was ended");
    p.client_reads = true;
    run(&mut p, &mut r);
    let got = received(&mut p, call);
    assert!(got.len() < FLOOD, "{}", got.len());
    assert_eq!(ended(&p, call).unwrap().code, Code::ResourceExhausted);
}

#[test]
fn calls_are_bounded_and_forgotten() {
    let mut p = pair();
    let mut r = service().with_max_calls(1);
    let a = open(&mut p);
    let b = open(&mut p);
    run(&mut p, &mut r);
    assert_eq!(r.calls(), 1);
    assert_eq!(ended(&p, b).unwrap().code, Code::ResourceExhausted);
    assert!(ended(&p, a).is_none());

    // Cancelled: forgotten, and the place is free again.
    p.client.cancel(a).unwrap();
    run(&mut p, &mut r);
    assert_eq!(r.calls(), 0);
    let c = open(&mut p);
    run(&mut p, &mut r);
    assert_eq!(r.calls(), 1);

    // The connection closes: its calls are forgotten.
    let closed = server::Event::Closed { error: None };
    assert!(!r.handle_event(CONN, &mut p.server, &closed));
    assert_eq!(r.calls(), 0);
    let _ = c;
}

#[test]
fn other_paths_are_not_taken() {
    let mut p = pair();
    let mut r = service();
    let call = p
        .client
        .start_call(
            client::Request::new("/grpc.reflection.v1.ServerReflection/Other"),
            p.now,
        )
        .unwrap();
    p.client.half_close(call).unwrap();
    run(&mut p, &mut r);
    assert_eq!(ended(&p, call).unwrap().code, Code::Unimplemented);
    assert_eq!(r.calls(), 0);
}

#[test]
fn conflicting_sets_are_refused() {
    let mut r = service();
    // The same set again is fine.
    r.add_file_descriptor_set(TEST_SET).unwrap();
    assert!(r.add_file_descriptor_set(&b"\x0a\x05"[..]).is_err());
    // A set whose file has the name of a registered one but other content.
    let mut set = FileSet::decode(TEST_SET).unwrap();
    let mut other = set.file[0].to_vec();
    other.extend_from_slice(b"\x12\x01x"); // package "x", appended
    set.file = vec![Bytes::from(other)];
    let err = r
        .add_file_descriptor_set(Bytes::from(set.encode_to_vec()))
        .unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
}
