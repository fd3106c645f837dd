//! Many concurrent calls of mixed kinds between our client and server, with
//! random message counts and sizes, read splits, HTTP/2 windows and frame
//! sizes, cancellations, server errors and server resets. Every message
//! must arrive exactly once and in order, and every call must end with
//! exactly the status its fate calls for. Deterministic: own xorshift RNG.

mod grpc_support;

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::testing::Pair;
use grpc_sansio::{ErrorCode, client, h2, server};
use grpc_support::*;

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[self.below(v.len() as u64) as usize]
    }
}

fn h2_config(rng: &mut Rng) -> h2::Config {
    let initial = rng.pick(&[1u32, 100, 16_384, 65_535, 1 << 20]);
    h2::Config {
        initial_window_size: initial,
        stream_window: initial.max(rng.pick(&[1000u32, 70_000, 1 << 20])),
        connection_window: rng.pick(&[65_535u32, 100_000, 4 << 20]),
        max_frame_size: rng.pick(&[16_384u32, 20_000, 1 << 20]),
        window_update_policy: if rng.below(2) == 0 {
            h2::WindowUpdatePolicy::Immediate
        } else {
            h2::WindowUpdatePolicy::Fraction(1 + rng.below(4) as u32)
        },
        max_send_buffer: rng.pick(&[100usize, 10_000, 256 << 10]),
        ..h2::Config::default()
    }
}

fn size(rng: &mut Rng) -> usize {
    match rng.below(20) {
        0..=7 => rng.below(20) as usize,
        8..=13 => rng.below(2000) as usize,
        14..=18 => rng.below(40_000) as usize,
        _ => rng.below(200 << 10) as usize + 1,
    }
}

/// Message `j` of call `i` in direction `dir`, `len` bytes.
fn body(i: usize, dir: u8, j: usize, len: usize) -> Bytes {
    let seed = i * 7919 + j * 131 + usize::from(dir) * 17;
    Bytes::from(
        (0..len)
            .map(|k| (seed + k * 31 + (k >> 8)) as u8)
            .collect::<Vec<_>>(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Ok,
    /// The server finishes with this code after `after` responses.
    ServerError(Code),
    /// The client cancels once `after` of its requests and responses together
    /// have happened.
    ClientCancel,
    /// The server resets the stream after `after` responses.
    ServerReset,
}

struct Plan {
    kind: Kind,
    requests: Vec<usize>,
    responses: Vec<usize>,
    fate: Fate,
    after: usize,
}

#[derive(Default)]
struct ClientSide {
    id: Option<CallId>,
    sent: usize,
    half_closed: bool,
    cancelled: bool,
    got: Vec<Bytes>,
    statuses: Vec<Status>,
    headers: usize,
}

#[derive(Default)]
struct ServerSide {
    id: Option<CallId>,
    got: Vec<Bytes>,
    half_closed: bool,
    sent: usize,
    finished: Option<Status>,
    reset: bool,
    cancelled: Vec<Status>,
}

fn plan(rng: &mut Rng) -> Plan {
    let kind = rng.pick(&KINDS);
    let n = |rng: &mut Rng, many: bool| if many { rng.below(6) as usize } else { 1 };
    let nreq = n(rng, matches!(kind, Kind::ClientStreaming | Kind::Bidi));
    let nresp = n(rng, matches!(kind, Kind::ServerStreaming | Kind::Bidi));
    let requests = (0..nreq).map(|_| size(rng)).collect();
    let responses: Vec<usize> = (0..nresp).map(|_| size(rng)).collect();
    let fate = match rng.below(10) {
        0..=4 => Fate::Ok,
        5 | 6 => Fate::ServerError(rng.pick(&[
            Code::NotFound,
            Code::Internal,
            Code::Aborted,
            Code::DataLoss,
        ])),
        7 | 8 => Fate::ClientCancel,
        _ => Fate::ServerReset,
    };
    let after = rng.below(nresp as u64 + 2) as usize;
    Plan {
        kind,
        requests,
        responses,
        fate,
        after,
    }
}

/// Runs one seed; returns the codes the calls ended with.
fn run(seed: u64) -> Vec<Code> {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut ccfg = client::Config {
        h2: h2_config(&mut rng),
        ..client::Config::default()
    };
    ccfg.max_queued_call_bytes = rng.pick(&[1000usize, 1 << 20]);
    let mut scfg = server::Config {
        h2: h2_config(&mut rng),
        ..server::Config::default()
    };
    scfg.h2.max_concurrent_streams = rng.pick(&[1u32, 3, 100]);
    let mut p = Pair::new(ccfg, scfg, Instant::now());
    let ncalls = 2 + rng.below(14) as usize;
    let plans: Vec<Plan> = (0..ncalls).map(|_| plan(&mut rng)).collect();
    let mut cs: Vec<ClientSide> = (0..ncalls).map(|_| ClientSide::default()).collect();
    let mut ss: Vec<ServerSide> = (0..ncalls).map(|_| ServerSide::default()).collect();
    let mut by_client: HashMap<CallId, usize> = HashMap::new();
    let mut by_server: HashMap<CallId, usize> = HashMap::new();
    let mut started = 0;

    let ctx = |i: usize| format!("seed {seed} call {i} {:?}", plans[i].kind);
    for round in 0.. {
        if round == 200_000 {
            for i in 0..ncalls {
                let (c, s) = (&cs[i], &ss[i]);
                eprintln!(
                    "call {i} {:?} {:?} after {} req {:?} resp {:?} | client sent {} half {} cancelled {} got {} st {:?} | server id {:?} got {} half {} sent {} fin {:?} reset {} canc {:?}",
                    plans[i].kind,
                    plans[i].fate,
                    plans[i].after,
                    plans[i].requests,
                    plans[i].responses,
                    c.sent,
                    c.half_closed,
                    c.cancelled,
                    c.got.len(),
                    c.statuses,
                    s.id,
                    s.got.len(),
                    s.half_closed,
                    s.sent,
                    s.finished,
                    s.reset,
                    s.cancelled
                );
            }
            panic!(
                "seed {seed}: no end; client calls {} streams {}, server calls {} streams {}",
                p.client.active_calls(),
                p.client.h2().active_streams(),
                p.server.active_calls(),
                p.server.h2().active_streams()
            );
        }
        p.split = rng.pick(&[usize::MAX, usize::MAX, 1, 7, 100, 5000]);
        // Start a few calls.
        while started < ncalls && rng.below(3) != 0 {
            let i = started;
            started += 1;
            let req = client::Request::new(format!("/rand.Svc/M{i}"));
            let id = p
                .client
                .start_call(req, p.now)
                .unwrap_or_else(|e| panic!("{}: {e:?}", ctx(i)));
            cs[i].id = Some(id);
            by_client.insert(id, i);
        }
        // Client actions.
        for i in 0..started {
            let pl = &plans[i];
            let c = &mut cs[i];
            let id = c.id.unwrap();
            if !c.statuses.is_empty() || c.cancelled {
                continue;
            }
            if pl.fate == Fate::ClientCancel
                && c.sent + c.got.len() >= pl.after
                && rng.below(3) == 0
            {
                p.client.cancel(id).unwrap();
                c.cancelled = true;
                continue;
            }
            while c.sent < pl.requests.len() && rng.below(4) != 0 {
                match p
                    .client
                    .send_message(id, body(i, 0, c.sent, pl.requests[c.sent]))
                {
                    Ok(()) => c.sent += 1,
                    Err(client::CallError::Blocked) => break,
                    Err(e) => panic!("{}: send_message {e:?}", ctx(i)),
                }
            }
            if c.sent == pl.requests.len() && !c.half_closed && rng.below(2) == 0 {
                p.client.half_close(id).unwrap();
                c.half_closed = true;
            }
        }
        // Server actions.
        for i in 0..ncalls {
            let pl = &plans[i];
            let s = &mut ss[i];
            let Some(id) = s.id else { continue };
            if s.finished.is_some() || s.reset || !s.cancelled.is_empty() {
                continue;
            }
            let may_send = match pl.kind {
                Kind::Bidi => true,
                _ => s.half_closed,
            };
            let stop_at = match pl.fate {
                Fate::ServerError(_) | Fate::ServerReset => pl.after.min(pl.responses.len()),
                _ => pl.responses.len(),
            };
            while may_send && s.sent < stop_at && rng.below(4) != 0 {
                match p
                    .server
                    .send_message(id, body(i, 1, s.sent, pl.responses[s.sent]))
                {
                    Ok(()) => s.sent += 1,
                    Err(server::CallError::Blocked) => break,
                    Err(e) => panic!("{}: server send_message {e:?}", ctx(i)),
                }
            }
            if s.sent < stop_at || rng.below(2) == 0 {
                continue;
            }
            match pl.fate {
                Fate::ServerError(code) => {
                    let st = Status::new(code, format!("call {i} failed"));
                    p.server.finish(id, st.clone(), &Metadata::new()).unwrap();
                    s.finished = Some(st);
                }
                Fate::ServerReset => {
                    p.server
                        .h2()
                        .reset_stream(stream_of(id), ErrorCode::CANCEL)
                        .unwrap();
                    s.reset = true;
                }
                Fate::Ok | Fate::ClientCancel if s.half_closed => {
                    p.server.finish(id, Status::ok(), &Metadata::new()).unwrap();
                    s.finished = Some(Status::ok());
                }
                _ => {}
            }
        }
        let moved = p.step();
        // Events.
        while let Some(e) = p.client_events.pop_front() {
            let Some(id) = client_call(&e) else {
                panic!("seed {seed}: unexpected {e:?}");
            };
            let i = by_client[&id];
            let c = &mut cs[i];
            assert!(
                c.statuses.is_empty(),
                "{}: event after Status: {e:?}",
                ctx(i)
            );
            match e {
                client::Event::Headers { .. } => c.headers += 1,
                client::Event::Message { data, .. } => c.got.push(data),
                client::Event::Status { status, .. } => c.statuses.push(status),
                client::Event::Writable { .. } => {}
                _ => unreachable!(),
            }
        }
        while let Some(e) = p.server_events.pop_front() {
            if let server::Event::Call { call, path, .. } = &e {
                let i: usize = path.strip_prefix("/rand.Svc/M").unwrap().parse().unwrap();
                assert!(ss[i].id.is_none(), "{}: two server calls", ctx(i));
                ss[i].id = Some(*call);
                by_server.insert(*call, i);
                continue;
            }
            let Some(id) = server_call(&e) else {
                panic!("seed {seed}: unexpected {e:?}");
            };
            let i = by_server[&id];
            let s = &mut ss[i];
            assert!(
                s.cancelled.is_empty(),
                "{}: event after Cancelled: {e:?}",
                ctx(i)
            );
            match e {
                server::Event::Message { data, .. } => {
                    assert!(!s.half_closed, "{}: message after half-close", ctx(i));
                    s.got.push(data);
                }
                server::Event::HalfClose { .. } => {
                    assert!(!s.half_closed);
                    s.half_closed = true;
                }
                server::Event::Cancelled { status, .. } => s.cancelled.push(status),
                _ => {}
            }
        }
        let all_done = started == ncalls
            && cs.iter().all(|c| !c.statuses.is_empty())
            && (0..ncalls).all(|i| {
                let s = &ss[i];
                s.id.is_none() || s.finished.is_some() || s.reset || !s.cancelled.is_empty()
            });
        if all_done && !moved {
            break;
        }
    }
    p.drive();

    // Verdicts.
    for i in 0..ncalls {
        let pl = &plans[i];
        let (c, s) = (&cs[i], &ss[i]);
        let ctx = ctx(i);
        assert_eq!(c.statuses.len(), 1, "{ctx}: {:?}", c.statuses);
        let status = &c.statuses[0];
        let want_resp: Vec<Bytes> = (0..c.got.len())
            .map(|j| body(i, 1, j, pl.responses[j]))
            .collect();
        assert!(
            c.got.len() <= pl.responses.len(),
            "{ctx}: too many responses"
        );
        assert!(c.got == want_resp, "{ctx}: responses differ");
        let want_req: Vec<Bytes> = (0..s.got.len())
            .map(|j| body(i, 0, j, pl.requests[j]))
            .collect();
        assert!(s.got.len() <= pl.requests.len(), "{ctx}: too many requests");
        assert!(s.got == want_req, "{ctx}: requests differ");
        assert!(c.headers <= 1, "{ctx}");
        if c.cancelled {
            assert_eq!(status.code, Code::Cancelled, "{ctx}");
            if s.id.is_some() && s.finished.is_none() && !s.reset {
                assert_eq!(s.cancelled.len(), 1, "{ctx}: {:?}", s.cancelled);
                assert_eq!(s.cancelled[0].code, Code::Cancelled, "{ctx}");
            }
            continue;
        }
        assert!(
            s.id.is_some(),
            "{ctx}: the server never saw it; status {status:?}"
        );
        if s.reset {
            assert_eq!(status.code, Code::Cancelled, "{ctx}");
            assert!(s.cancelled.len() <= 1, "{ctx}");
            continue;
        }
        assert!(
            s.cancelled.is_empty(),
            "{ctx}: server saw {:?}",
            s.cancelled
        );
        let fin = s.finished.as_ref().expect("finished");
        assert_eq!(status, fin, "{ctx}");
        assert_eq!(c.got.len(), s.sent, "{ctx}: every response sent arrived");
        if fin.is_ok() {
            assert_eq!(
                s.got.len(),
                pl.requests.len(),
                "{ctx}: every request arrived"
            );
        }
    }
    assert_idle(&mut p);
    cs.iter().map(|c| c.statuses[0].code).collect()
}

#[test]
fn random_concurrent_calls() {
    let mut codes: HashMap<Code, usize> = HashMap::new();
    for seed in 0..100 {
        for code in run(seed) {
            *codes.entry(code).or_default() += 1;
        }
    }
    // Every fate was exercised.
    for code in [
        Code::Ok,
        Code::Cancelled,
        Code::NotFound,
        Code::Internal,
        Code::Aborted,
        Code::DataLoss,
    ] {
        assert!(
            codes.get(&code).copied().unwrap_or(0) >= 10,
            "{code:?}: {codes:?}"
        );
    }
}
