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
