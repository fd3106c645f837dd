//! A client and a server of ours exchange many concurrent streams in memory
//! with random read splits, windows and frame sizes; every byte must arrive
//! intact, in order, exactly once.

mod common;

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use common::*;
use grpc_sansio::ErrorCode;
use grpc_sansio::frame::StreamId;
use grpc_sansio::h2::{Config, Event, HeadersKind, ReleaseMode, SendError, WindowUpdatePolicy};

/// xorshift64*: deterministic, dependency-free.
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
}

fn random_config(rng: &mut Rng) -> Config {
    let initial = [1u32, 100, 16_384, 65_535, 1 << 20][rng.below(5) as usize];
    Config {
        initial_window_size: initial,
        stream_window: initial.max([1000u32, 70_000, 1 << 20][rng.below(3) as usize]),
        connection_window: [65_535u32, 100_000, 4 << 20][rng.below(3) as usize],
        max_frame_size: [16_384u32, 20_000, 1 << 20][rng.below(3) as usize],
        max_concurrent_streams: [1u32, 3, 100][rng.below(3) as usize],
        release_mode: if rng.below(2) == 0 {
            ReleaseMode::OnDelivery
        } else {
            ReleaseMode::Manual
        },
        window_update_policy: if rng.below(2) == 0 {
            WindowUpdatePolicy::Immediate
        } else {
            WindowUpdatePolicy::Fraction(1 + rng.below(4) as u32)
        },
        max_send_buffer: [100usize, 10_000, 1 << 20][rng.below(3) as usize],
        ..Config::default()
    }
}

fn body(rng: &mut Rng, i: usize) -> Vec<u8> {
    let len = [0usize, 1, 100, 16_384, 70_000, 200_000][rng.below(6) as usize];
    (0..len).map(|j| (j * 31 + i * 7) as u8).collect()
}

/// One stream's sending side: what is left to send of a body.
struct Out {
    rest: Bytes,
    done: bool,
}

fn pump(conn: &mut grpc_sansio::h2::Connection, id: StreamId, out: &mut Out, rng: &mut Rng) {
    while !out.done {
        let n = (1 + rng.below(50_000) as usize).min(out.rest.len());
        let chunk = out.rest.slice(..n);
        let last = n == out.rest.len();
        match conn.send_data(id, chunk, last) {
            Ok(()) => {
                out.rest = out.rest.slice(n..);
                out.done = last;
            }
            Err(SendError::Blocked) => return,
            Err(e) => panic!("send_data on {id:?}: {e:?}"),
        }
    }
}

fn run(seed: u64) {
    let mut rng = Rng(seed | 1);
    let cc = random_config(&mut rng);
    let sc = random_config(&mut rng);
    let mut pair = Pair::new(cc.clone(), sc.clone());
    pair.split = [1usize, 7, 100, 5000, usize::MAX][rng.below(5) as usize];
    let streams = 1 + rng.below(12) as usize;
    let bodies: Vec<Vec<u8>> = (0..streams).map(|i| body(&mut rng, i)).collect();

    let mut to_open: Vec<usize> = (0..streams).collect();
    let mut client_out: HashMap<StreamId, Out> = HashMap::new();
    let mut index_of: HashMap<StreamId, usize> = HashMap::new();
    let mut server_out: HashMap<StreamId, Out> = HashMap::new();
    let mut server_got: BTreeMap<StreamId, Vec<u8>> = BTreeMap::new();
    let mut client_got: BTreeMap<StreamId, Vec<u8>> = BTreeMap::new();
    let mut finished = 0;

    for _round in 0..200_000 {
        // open what the peer's concurrency allows
        while let Some(&i) = to_open.first() {
            match pair.client.open_stream(&post("/echo"), false) {
                Ok(id) => {
                    to_open.remove(0);
                    index_of.insert(id, i);
                    client_out.insert(
                        id,
                        Out {
                            rest: Bytes::from(bodies[i].clone()),
                            done: false,
                        },
                    );
                }
                Err(SendError::StreamLimit) => break,
                Err(e) => panic!("open_stream: {e:?}"),
            }
        }
        for (id, out) in client_out.iter_mut() {
            pump(&mut pair.client, *id, out, &mut rng);
        }
        for (id, out) in server_out.iter_mut() {
            pump(&mut pair.server, *id, out, &mut rng);
        }
        let moved = pair.step();
        while let Some(e) = pair.server_events.pop_front() {
            match e {
                Event::Headers {
                    stream_id,
                    kind: HeadersKind::Request,
                    ..
                } => {
                    pair.server
                        .send_headers(stream_id, &response("200"), false)
                        .unwrap();
                    server_got.insert(stream_id, Vec::new());
                }
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                    ..
                } => {
                    server_got
                        .get_mut(&stream_id)
                        .unwrap()
                        .extend_from_slice(&data);
                    if sc.release_mode == ReleaseMode::Manual {
                        pair.server.release_capacity(stream_id, data.len());
                    }
                    if end_stream {
                        // echo the whole body back once it is complete
                        let all = Bytes::from(server_got[&stream_id].clone());
                        server_out.insert(
                            stream_id,
                            Out {
                                rest: all,
                                done: false,
                            },
                        );
                    }
                }
                Event::Reset { .. } | Event::Closed { .. } => panic!("server: {e:?}"),
                _ => {}
            }
        }
        while let Some(e) = pair.client_events.pop_front() {
            match e {
                Event::Headers {
                    stream_id,
                    kind: HeadersKind::Response { status: 200 },
                    ..
                } => {
                    client_got.insert(stream_id, Vec::new());
                }
                Event::Data {
                    stream_id,
                    data,
                    end_stream,
                    ..
                } => {
                    client_got
                        .get_mut(&stream_id)
                        .unwrap()
                        .extend_from_slice(&data);
                    if cc.release_mode == ReleaseMode::Manual {
                        pair.client.release_capacity(stream_id, data.len());
                    }
                    if end_stream {
                        let i = index_of[&stream_id];
                        assert_eq!(
                            client_got[&stream_id], bodies[i],
                            "seed {seed}: stream {stream_id:?} body"
                        );
                        finished += 1;
                    }
                }
                Event::Reset {
                    stream_id,
                    code: ErrorCode::REFUSED_STREAM,
                    ..
                } => {
                    // Opened before the server's SETTINGS arrived: refused,
                    // never processed, safe to retry (RFC 9113 §8.7).
                    client_out.remove(&stream_id);
                    to_open.push(index_of[&stream_id]);
                }
                Event::Reset { .. } | Event::Closed { .. } => panic!("client: {e:?}"),
                _ => {}
            }
        }
        if finished == streams {
            assert_eq!(pair.client.active_streams(), 0);
            pair.drive();
            assert_eq!(pair.server.active_streams(), 0, "seed {seed}");
            return;
        }
        if !moved && to_open.is_empty() {
            // nothing moved and nothing can: only pending sends may unblock
            let pending =
                client_out.values().any(|o| !o.done) || server_out.values().any(|o| !o.done);
            if !pending {
                break;
            }
        }
    }
    let left: Vec<_> = client_out
        .iter()
        .filter(|(_, o)| !o.done)
        .map(|(id, o)| (*id, o.rest.len()))
        .collect();
    let sleft: Vec<_> = server_out
        .iter()
        .filter(|(_, o)| !o.done)
        .map(|(id, o)| (*id, o.rest.len()))
        .collect();
    let cw: Vec<_> = client_out
        .keys()
        .map(|id| (*id, pair.client.send_window(*id)))
        .collect();
    let sw: Vec<_> = server_out
        .keys()
        .map(|id| (*id, pair.server.send_window(*id)))
        .collect();
    panic!(
        "seed {seed}: did not finish ({finished}/{streams}); client cfg {cc:?}\nserver cfg {sc:?}\nsplit {}\nclient left {left:?} windows {cw:?}\nserver left {sleft:?} windows {sw:?}\ngot {:?}",
        pair.split,
        server_got
            .iter()
            .map(|(k, v)| (*k, v.len()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn random_concurrent_streams_arrive_intact() {
    for seed in 1..=200u64 {
        run(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    }
}
