//! The examples' adapters over real loopback TCP, each of std, tokio and
//! smol serving and calling with itself: the book's OrderManagement and
//! ProductInfo flows end to end, a deadline that only a timer can end, and
//! a graceful shutdown with a call in flight.
//!
//! Every case runs on a thread of its own under a time bound, so a hang
//! fails the test instead of blocking the run.

#[path = "../examples/adapters/mod.rs"]
mod adapters;
#[path = "../examples/ecommerce/mod.rs"]
mod ecommerce;

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use adapters::{ClientApp, Runtime, Server};
use ecommerce::pb::order_management::{self, OrderManagementClient};
use ecommerce::{BookClient, EcommerceApp, Flow, Store};
use grpc_sansio::grpc::{CallId, Code, Status};
use grpc_sansio::{client, server};

/// Runs `f` on a thread; panics if it takes longer than `limit`.
fn bounded<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        // The thread panicked: show its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("the worker sent nothing and did not panic"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("timed out after {limit:?}"),
    }
}

/// A running server of both services on 127.0.0.1:0.
struct Running {
    addr: SocketAddr,
    server: Server,
    handle: JoinHandle<std::io::Result<()>>,
}

fn start_server(rt: Runtime) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::default();
    let store = Store::book();
    let app = move |_| EcommerceApp::new(store.clone());
    let handle = rt.serve_in_thread(
        listener,
        server.clone(),
        server::Config::default(),
        app,
        false,
    );
    Running {
        addr,
        server,
        handle,
    }
}

impl Running {
    /// Shuts the server down; `serve` must return (cleanly) soon after.
    fn stop(self) {
        self.server.shutdown();
        let started = Instant::now();
        while !self.handle.is_finished() {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "serve did not return after shutdown"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        self.handle.join().unwrap().unwrap();
    }
}

fn client_config(addr: SocketAddr) -> client::Config {
    client::Config {
        authority: addr.to_string(),
        ..client::Config::default()
    }
}

fn ids(orders: &[ecommerce::pb::Order]) -> Vec<&str> {
    orders.iter().map(|o| o.id.as_str()).collect()
}

fn order_management(rt: Runtime) {
    bounded(Duration::from_secs(20), move || {
        let srv = start_server(rt);
        // A peer that is not HTTP/2 is logged and dropped; the server goes on.
        let mut junk = TcpStream::connect(srv.addr).unwrap();
        junk.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        drop(junk);

        let mut app = BookClient::new(Flow::OrderManagement);
        rt.run_client(srv.addr, client_config(srv.addr), &mut app)
            .unwrap();
        let seen = &app.seen;
        assert_eq!(
            seen.statuses,
            ecommerce::expected_codes(Flow::OrderManagement)
        );
        let order = seen.order.as_ref().expect("getOrder(106) answered");
        assert_eq!(order.id, "106");
        assert_eq!(order.items, ["Amazon Echo", "Apple iPhone XS"]);
        assert_eq!(order.destination, "Mountain View, CA");
        assert_eq!(order.price, 300.0);
        // Items containing "Google", before the updates.
        assert_eq!(ids(&seen.found), ["102", "104"]);
        assert_eq!(
            seen.update_reply.as_deref(),
            Some("Orders processed 102, 103, 104")
        );
        // A full batch (102, 103, 104) by destination, then the rest (105).
        let shipments: Vec<(&str, &str, Vec<&str>)> = seen
            .shipments
            .iter()
            .map(|s| (s.id.as_str(), s.status.as_str(), ids(&s.orders_list)))
            .collect();
        assert_eq!(
            shipments,
            [
                ("cmb - Mountain View, CA", "Processed!", vec!["102", "104"]),
                ("cmb - San Jose, CA", "Processed!", vec!["103"]),
                ("cmb - San Jose, CA", "Processed!", vec!["105"]),
            ]
        );
        // The shipped orders are the updated ones.
        assert_eq!(seen.shipments[0].orders_list[0].price, 1100.0);
        assert!(!seen.goaway, "no GOAWAY before the client was done");
        srv.stop();
    });
}

#[test]
fn order_management_std() {
    order_management(Runtime::Std);
}

#[test]
fn order_management_tokio() {
    order_management(Runtime::Tokio);
}

#[test]
fn order_management_smol() {
    order_management(Runtime::Smol);
}

/// ProductInfo on every runtime; the store is shared by connections, so
/// the second client's product gets the next id.
#[test]
fn product_info_shares_the_store_across_connections() {
    bounded(Duration::from_secs(20), || {
        for rt in Runtime::ALL {
            let srv = start_server(rt);
            for want_id in ["1", "2"] {
                let mut app = BookClient::new(Flow::ProductInfo);
                rt.run_client(srv.addr, client_config(srv.addr), &mut app)
                    .unwrap();
                assert_eq!(
                    app.seen.statuses,
                    ecommerce::expected_codes(Flow::ProductInfo),
                    "{rt}"
                );
                assert_eq!(app.seen.product_id.as_deref(), Some(want_id), "{rt}");
                let product = app.seen.product.as_ref().unwrap();
                assert_eq!(product.name, ecommerce::book_product().name);
                assert_eq!(product.id, want_id);
            }
            srv.stop();
        }
    });
}

/// A client that starts `processOrders`, sends one id and waits: the server
/// answers only when a batch fills or the client half-closes, so only the
/// deadline can end the call.
struct Stalled {
    deadline: Duration,
    call: Option<CallId>,
    status: Option<Status>,
}

impl ClientApp for Stalled {
    fn start(&mut self, conn: &mut client::Connection, now: Instant) {
        let mut request = order_management::PROCESS_ORDERS.request();
        request.deadline = Some(now + self.deadline);
        let call = OrderManagementClient::process_orders(conn, request, now).unwrap();
        OrderManagementClient::send_process_orders(conn, call, &"102".into()).unwrap();
        self.call = Some(call);
    }

    fn on_event(&mut self, _conn: &mut client::Connection, event: client::Event, _now: Instant) {
        match event {
            client::Event::Status { call, status, .. } if Some(call) == self.call => {
                self.status = Some(status)
            }
            client::Event::Message { .. } => panic!("processOrders answered a partial batch"),
            _ => {}
        }
    }

    fn is_done(&self) -> bool {
        self.status.is_some()
    }
}

#[test]
fn deadline_ends_a_call_that_is_never_answered() {
    bounded(Duration::from_secs(20), || {
        for rt in Runtime::ALL {
            let srv = start_server(rt);
            let mut app = Stalled {
                deadline: Duration::from_millis(200),
                call: None,
                status: None,
            };
            let started = Instant::now();
            rt.run_client(srv.addr, client_config(srv.addr), &mut app)
                .unwrap();
            let took = started.elapsed();
            let status = app.status.expect("the call ended");
            assert_eq!(status.code, Code::DeadlineExceeded, "{rt}: {status:?}");
            assert!(
                took >= Duration::from_millis(190) && took < Duration::from_secs(3),
                "{rt}: ended after {took:?}"
            );
            srv.stop();
        }
    });
}

/// A client that twice waits longer than the adapters' quiet period (the
/// server connection gives back its buffers, timer and the core's spare
/// memory) and then starts a call that only its deadline can end: the
/// connection must keep working, deadlines included, after going quiet.
struct QuietThenStalled {
    next_start: Option<Instant>,
    call: Option<(CallId, Instant)>,
    ended: Vec<(Status, Duration)>,
}

const QUIET_PAUSE: Duration = Duration::from_millis(150);
const STALL_DEADLINE: Duration = Duration::from_millis(200);

impl ClientApp for QuietThenStalled {
    fn start(&mut self, _conn: &mut client::Connection, now: Instant) {
        self.next_start = Some(now + QUIET_PAUSE);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.next_start
    }

    fn on_timeout(&mut self, conn: &mut client::Connection, now: Instant) {
        self.next_start = None;
        let mut request = order_management::PROCESS_ORDERS.request();
        request.deadline = Some(now + STALL_DEADLINE);
        let call = OrderManagementClient::process_orders(conn, request, now).unwrap();
        OrderManagementClient::send_process_orders(conn, call, &"102".into()).unwrap();
        self.call = Some((call, now));
    }

    fn on_event(&mut self, _conn: &mut client::Connection, event: client::Event, now: Instant) {
        match event {
            client::Event::Status { call, status, .. }
                if self.call.is_some_and(|(c, _)| c == call) =>
            {
                let (_, started) = self.call.take().unwrap();
                self.ended.push((status, now - started));
                if self.ended.len() < 2 {
                    self.next_start = Some(now + QUIET_PAUSE);
                }
            }
            client::Event::Message { .. } => panic!("processOrders answered a partial batch"),
            _ => {}
        }
    }

    fn is_done(&self) -> bool {
        self.ended.len() == 2
    }
}

#[test]
fn deadlines_still_work_after_the_connection_went_quiet() {
    bounded(Duration::from_secs(20), || {
        for rt in Runtime::ALL {
            let srv = start_server(rt);
            let mut app = QuietThenStalled {
                next_start: None,
                call: None,
                ended: Vec::new(),
            };
            rt.run_client(srv.addr, client_config(srv.addr), &mut app)
                .unwrap();
            for (status, took) in &app.ended {
                assert_eq!(status.code, Code::DeadlineExceeded, "{rt}: {status:?}");
                assert!(
                    *took >= STALL_DEADLINE - Duration::from_millis(10)
                        && *took < Duration::from_secs(3),
                    "{rt}: ended after {took:?}"
                );
            }
            srv.stop();
        }
    });
}

/// A client that starts `updateOrders`, sends one update, then shuts the
/// server down (after a timer of its own) and, once it sees GOAWAY, sends
/// the rest and half-closes: the call in flight must complete.
struct ShutdownMidCall {
    server: Server,
    call: Option<CallId>,
    shutdown_at: Option<Instant>,
    goaway: bool,
    reply: Option<String>,
    status: Option<Status>,
}

impl ClientApp for ShutdownMidCall {
    fn start(&mut self, conn: &mut client::Connection, now: Instant) {
        let call = OrderManagementClient::update_orders(
            conn,
            order_management::UPDATE_ORDERS.request(),
            now,
        )
        .unwrap();
        let first = ecommerce::book_updates().remove(0);
        OrderManagementClient::send_update_orders(conn, call, &first).unwrap();
        self.call = Some(call);
        self.shutdown_at = Some(now + Duration::from_millis(50));
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.shutdown_at
    }

    fn on_timeout(&mut self, _conn: &mut client::Connection, _now: Instant) {
        self.shutdown_at = None;
        self.server.shutdown();
    }

    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event, _now: Instant) {
        match event {
            client::Event::GoAway { .. } if !self.goaway => {
                self.goaway = true;
                let call = self.call.unwrap();
                for o in ecommerce::book_updates().into_iter().skip(1) {
                    OrderManagementClient::send_update_orders(conn, call, &o).unwrap();
                }
                conn.half_close(call).unwrap();
            }
            client::Event::Message { data, .. } => {
                self.reply = Some(OrderManagementClient::decode_update_orders(data).unwrap());
            }
            client::Event::Status { call, status, .. } if Some(call) == self.call => {
                self.status = Some(status)
            }
            _ => {}
        }
    }

    fn is_done(&self) -> bool {
        self.status.is_some()
    }
}

#[test]
fn graceful_shutdown_lets_the_call_in_flight_finish() {
    bounded(Duration::from_secs(30), || {
        for rt in Runtime::ALL {
            let srv = start_server(rt);
            let mut app = ShutdownMidCall {
                server: srv.server.clone(),
                call: None,
                shutdown_at: None,
                goaway: false,
                reply: None,
                status: None,
            };
            rt.run_client(srv.addr, client_config(srv.addr), &mut app)
                .unwrap();
            assert!(app.goaway, "{rt}: the server sent GOAWAY");
            let status = app.status.expect("the call ended");
            assert!(status.is_ok(), "{rt}: {status:?}");
            assert_eq!(
                app.reply.as_deref(),
                Some("Orders processed 102, 103, 104"),
                "{rt}"
            );
            // The call is over, so the connection drains and serve returns.
            let started = Instant::now();
            while !srv.handle.is_finished() {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "{rt}: serve did not return after the shutdown"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            srv.handle.join().unwrap().unwrap();
            // No new connection is served.
            let mut late = BookClient::new(Flow::ProductInfo);
            let refused = rt.run_client(srv.addr, client_config(srv.addr), &mut late);
            assert!(
                refused.is_err() || late.seen.product_id.is_none(),
                "{rt}: served after shutdown"
            );
        }
    });
}

/// A seeded PRNG (xorshift64*) for the byte-stream tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// FNV-1a over `data`, continuing from `h`.
fn fnv(mut h: u64, data: &[u8]) -> u64 {
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
}
const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

/// A server app that digests every request message of a call and, at its
/// half-close, answers with one message: the number of bytes and their
/// FNV-1a hash (16 bytes, little-endian). Any byte the read path changed,
/// lost or invented shows as a wrong digest (or a protocol error).
#[derive(Default)]
struct Digest {
    calls: std::collections::HashMap<CallId, (u64, u64)>,
}

impl adapters::ServerApp for Digest {
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event, _now: Instant) {
        match event {
            server::Event::Call { call, .. } => {
                self.calls.insert(call, (0, FNV_START));
            }
            server::Event::Message { call, data } => {
                if let Some((n, h)) = self.calls.get_mut(&call) {
                    *n += data.len() as u64;
                    *h = fnv(*h, &data);
                }
            }
            server::Event::HalfClose { call } => {
                if let Some((n, h)) = self.calls.remove(&call) {
                    let mut reply = n.to_le_bytes().to_vec();
                    reply.extend_from_slice(&h.to_le_bytes());
                    let _ = conn.send_message(call, reply.into());
                    let _ = conn.finish(call, Status::new(Code::Ok, ""), &Default::default());
                }
            }
            server::Event::Cancelled { call, .. } => {
                self.calls.remove(&call);
            }
            _ => {}
        }
    }
}

/// Drives a client core over a raw socket, writing what it transmits in
/// random pieces (1 byte to 16 KiB) with random pauses (some longer than
/// any read timeout of the std adapter), while a thread reads the answers.
/// Runs `calls` calls of random messages and returns, per call, the digest
/// the server sent and the one of the bytes sent.
fn pieced_calls(addr: SocketAddr, seed: u64, calls: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    use std::io::Read;
    let mut rng = Rng(seed);
    let socket = TcpStream::connect(addr).unwrap();
    socket.set_nodelay(true).unwrap();
    let (tx, rx) = mpsc::channel::<bytes::Bytes>();
    let mut reader = socket.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0; 64 << 10];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(bytes::Bytes::copy_from_slice(&buf[..n])).is_err() {
                break;
            }
        }
    });
    let mut writer = socket;
    let mut conn = client::Connection::new(client_config(addr), Instant::now());
    // Per call: messages still to send, digest of what was sent, reply.
    struct Call {
        todo: std::collections::VecDeque<bytes::Bytes>,
        sent: (u64, u64),
        reply: Option<Vec<u8>>,
        done: bool,
    }
    let mut table: std::collections::HashMap<CallId, Call> = Default::default();
    for _ in 0..calls {
        let id = conn
            .start_call(client::Request::new("/test.Digest/Sum"), Instant::now())
            .unwrap();
        let mut call = Call {
            todo: Default::default(),
            sent: (0, FNV_START),
            reply: None,
            done: false,
        };
        for _ in 0..1 + rng.below(4) {
            let len = match rng.below(4) {
                0 => 1 + rng.below(16),
                1 | 2 => 1 + rng.below(4000),
                _ => 1 + rng.below(40_000),
            } as usize;
            let m = rng.bytes(len);
            call.sent = (call.sent.0 + len as u64, fnv(call.sent.1, &m));
            call.todo.push_back(m.into());
        }
        table.insert(id, call);
    }
    let pump = |conn: &mut client::Connection,
                table: &mut std::collections::HashMap<CallId, Call>,
                id: CallId| {
        let call = table.get_mut(&id).unwrap();
        while let Some(m) = call.todo.front() {
            match conn.send_message(id, m.clone()) {
                Ok(()) => {
                    call.todo.pop_front();
                    if call.todo.is_empty() {
                        conn.half_close(id).unwrap();
                    }
                }
                Err(client::CallError::Blocked) => break,
                Err(e) => panic!("send: {e:?}"),
            }
        }
    };
    let ids: Vec<CallId> = table.keys().copied().collect();
    for &id in &ids {
        pump(&mut conn, &mut table, id);
    }
    let mut pending: std::collections::VecDeque<u8> = Default::default();
    let give_up = Instant::now() + Duration::from_secs(30);
    while !table.values().all(|c| c.done) {
        assert!(Instant::now() < give_up, "calls not done in time");
        let now = Instant::now();
        while let Ok(b) = rx.try_recv() {
            conn.recv(b, now).expect("the server's bytes are valid");
        }
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
        while let Some(e) = conn.poll_event() {
            match e {
                client::Event::Writable { call } => pump(&mut conn, &mut table, call),
                client::Event::Message { call, data } => {
                    table.get_mut(&call).unwrap().reply = Some(data.to_vec())
                }
                client::Event::Status { call, status, .. } => {
                    assert_eq!(status.code, Code::Ok, "{status:?}");
                    table.get_mut(&call).unwrap().done = true;
                }
                client::Event::Closed { error } => panic!("connection closed: {error:?}"),
                _ => {}
            }
        }
        while let Some(t) = conn.poll_transmit() {
            for c in t.chunks() {
                pending.extend(c.iter());
            }
        }
        if pending.is_empty() {
            if let Ok(b) = rx.recv_timeout(Duration::from_millis(5)) {
                conn.recv(b, Instant::now())
                    .expect("the server's bytes are valid");
            }
            continue;
        }
        let piece = match rng.below(3) {
            0 => 1 + rng.below(16),
            1 => 1 + rng.below(1500),
            _ => 1 + rng.below(16 << 10),
        } as usize;
        let piece: Vec<u8> = pending.drain(..piece.min(pending.len())).collect();
        writer.write_all(&piece).unwrap();
        match rng.below(400) {
            0..=3 => std::thread::sleep(Duration::from_millis(105 + rng.below(30))),
            4..=100 => std::thread::sleep(Duration::from_micros(rng.below(3000))),
            _ => {}
        }
    }
    table
        .into_values()
        .map(|c| {
            let mut want = c.sent.0.to_le_bytes().to_vec();
            want.extend_from_slice(&c.sent.1.to_le_bytes());
            (c.reply.unwrap_or_default(), want)
        })
        .collect()
}

/// The read path of each adapter hands the core exactly the bytes the
/// peer wrote, written in random pieces with pauses between them (the
/// std adapter's reads time out in some of them): every call's digest
/// matches. This once failed on the std adapter, which handed the core
/// zeros after a read timeout.
fn read_path_hands_over_the_bytes_written(rt: Runtime) {
    bounded(Duration::from_secs(60), move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::default();
        let handle = rt.serve_in_thread(
            listener,
            server.clone(),
            server::Config::default(),
            |_| Digest::default(),
            false,
        );
        let srv = Running {
            addr,
            server,
            handle,
        };
        for seed in 1..=3u64 {
            for (got, want) in pieced_calls(addr, seed.wrapping_mul(0x9e37_79b9_7f4a_7c15), 40) {
                assert_eq!(got, want, "{rt}: seed {seed}: the digest of the bytes sent");
            }
        }
        srv.stop();
    });
}

#[test]
fn read_path_hands_over_the_bytes_written_std() {
    read_path_hands_over_the_bytes_written(Runtime::Std);
}

#[test]
fn read_path_hands_over_the_bytes_written_tokio() {
    read_path_hands_over_the_bytes_written(Runtime::Tokio);
}

#[test]
fn read_path_hands_over_the_bytes_written_smol() {
    read_path_hands_over_the_bytes_written(Runtime::Smol);
}

/// An HTTP/2 client connection that did its handshake and then does
/// nothing; what the server sent so far is in the returned buffer.
fn h2_handshake(addr: SocketAddr) -> (TcpStream, Vec<u8>) {
    use std::io::Read;
    let mut socket = TcpStream::connect(addr).unwrap();
    let mut conn = client::Connection::new(client_config(addr), Instant::now());
    let flush = |conn: &mut client::Connection, socket: &mut TcpStream| {
        while let Some(t) = conn.poll_transmit() {
            for c in t.chunks() {
                socket.write_all(c).unwrap();
            }
        }
    };
    flush(&mut conn, &mut socket);
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = vec![0; 4096];
    let n = socket.read(&mut buf).unwrap();
    buf.truncate(n);
    let _ = conn.recv(bytes::Bytes::copy_from_slice(&buf), Instant::now());
    flush(&mut conn, &mut socket);
    (socket, buf)
}

/// The frames in `wire`: (type, flags, stream, payload).
fn frames(mut wire: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut out = Vec::new();
    while wire.len() >= 9 {
        let len = u32::from_be_bytes([0, wire[0], wire[1], wire[2]]) as usize;
        let stream = u32::from_be_bytes([wire[5], wire[6], wire[7], wire[8]]) & 0x7fff_ffff;
        let end = (9 + len).min(wire.len());
        out.push((wire[3], wire[4], stream, wire[9..end].to_vec()));
        wire = &wire[end..];
    }
    out
}

const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;

/// The std adapter serves at most `max_connections` at once: one more
/// gets the server preface and GOAWAY(REFUSED_STREAM, "too many
/// connections") and is closed; once a connection ends, a new one is
/// served again.
#[test]
fn std_refuses_connections_past_the_cap() {
    use std::io::Read;
    bounded(Duration::from_secs(20), || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Server::with_limits(adapters::Limits {
            max_connections: 2,
            ..adapters::Limits::default()
        });
        let store = Store::book();
        let handle = Runtime::Std.serve_in_thread(
            listener,
            server.clone(),
            server::Config::default(),
            move |_| EcommerceApp::new(store.clone()),
            false,
        );
        let (first, _) = h2_handshake(addr);
        let (_second, _) = h2_handshake(addr);
        let (mut third, mut wire) = h2_handshake(addr);
        let mut buf = [0; 4096];
        while let Ok(n) = third.read(&mut buf) {
            if n == 0 {
                break;
            }
            wire.extend_from_slice(&buf[..n]);
        }
        // The preface (SETTINGS, and WINDOW_UPDATE), then GOAWAY, then the
        // end.
        let all = frames(&wire);
        assert_eq!(all.first().map(|f| f.0), Some(SETTINGS), "{all:?}");
        assert_eq!(all.last().map(|f| f.0), Some(GOAWAY), "{all:?}");
        assert_eq!(all.iter().filter(|f| f.0 == GOAWAY).count(), 1);
        let goaway = &all.last().unwrap().3;
        assert_eq!(
            &goaway[..4],
            &[0, 0, 0, 0],
            "last stream 0: nothing processed"
        );
        assert_eq!(&goaway[4..8], &[0, 0, 0, 7], "REFUSED_STREAM");
        assert_eq!(&goaway[8..], b"too many connections");
        // A connection ends: the next is served (a whole flow on it).
        drop(first);
        std::thread::sleep(Duration::from_millis(100));
        let mut app = BookClient::new(Flow::ProductInfo);
        Runtime::Std
            .run_client(addr, client_config(addr), &mut app)
            .unwrap();
        assert_eq!(
            app.seen.statuses,
            ecommerce::expected_codes(Flow::ProductInfo)
        );
        drop(_second);
        server.shutdown();
        handle.join().unwrap().unwrap();
    });
}

/// An app that reports its wakes.
struct WakeReport(mpsc::Sender<Instant>);

impl adapters::ServerApp for WakeReport {
    fn on_event(&mut self, _: &mut server::Connection, _: server::Event, _: Instant) {}
    fn on_wake(&mut self, _: &mut server::Connection, now: Instant) {
        let _ = self.0.send(now);
    }
}

/// A wake (`Server::wake_all`) and a shutdown reach a connection that has
/// been idle for a while at once, on every adapter (the std adapter's idle
/// connections wait in a poller, not in a loop).
#[test]
fn wake_and_shutdown_reach_an_idle_connection_promptly() {
    use std::io::Read;
    bounded(Duration::from_secs(30), || {
        for rt in Runtime::ALL {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = Server::default();
            let (tx, rx) = mpsc::channel();
            let handle = rt.serve_in_thread(
                listener,
                server.clone(),
                server::Config::default(),
                move |_| WakeReport(tx.clone()),
                false,
            );
            let (mut socket, _) = h2_handshake(addr);
            std::thread::sleep(Duration::from_millis(300));
            let woke = Instant::now();
            server.wake_all();
            let seen = rx
                .recv_timeout(Duration::from_secs(2))
                .expect("the wake came");
            let late = seen.saturating_duration_since(woke);
            assert!(
                late < Duration::from_millis(25),
                "{rt}: a wake took {late:?}"
            );
            std::thread::sleep(Duration::from_millis(300));
            let stop = Instant::now();
            server.shutdown();
            socket
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut wire = Vec::new();
            let mut buf = [0; 4096];
            while !frames(&wire).iter().any(|f| f.0 == GOAWAY) {
                let n = socket.read(&mut buf).unwrap();
                assert!(n > 0, "{rt}: closed without GOAWAY");
                wire.extend_from_slice(&buf[..n]);
            }
            let late = stop.elapsed();
            assert!(
                late < Duration::from_millis(25),
                "{rt}: GOAWAY took {late:?}"
            );
            drop(socket);
            handle.join().unwrap().unwrap();
        }
    });
}

/// A call that never finishes outlives the shutdown's grace period: the
/// server ends it with UNAVAILABLE "server is shutting down" in its
/// trailers and closes with a final GOAWAY, on every adapter (before, the
/// connection was only dropped).
#[test]
fn forced_shutdown_ends_open_calls_with_unavailable() {
    bounded(Duration::from_secs(30), || {
        for rt in Runtime::ALL {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let server = Server::with_limits(adapters::Limits {
                shutdown_grace: Duration::from_millis(200),
                ..adapters::Limits::default()
            });
            let store = Store::book();
            let handle = rt.serve_in_thread(
                listener,
                server.clone(),
                server::Config::default(),
                move |_| EcommerceApp::new(store.clone()),
                false,
            );
            let srv = server.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                srv.shutdown();
            });
            let mut app = Stalled {
                deadline: Duration::from_secs(20),
                call: None,
                status: None,
            };
            let started = Instant::now();
            let _ = rt.run_client(addr, client_config(addr), &mut app);
            let status = app.status.expect("the call ended");
            assert_eq!(status.code, Code::Unavailable, "{rt}: {status:?}");
            assert_eq!(status.message, "server is shutting down", "{rt}");
            assert!(started.elapsed() < Duration::from_secs(3), "{rt}");
            handle.join().unwrap().unwrap();
        }
    });
}
