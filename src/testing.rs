//! An in-memory client/server pair for tests: it moves bytes between a
//! [`client::Connection`] and a [`server::Connection`] with a virtual clock,
//! a configurable read split (down to one byte), and a side that stops
//! reading (backpressure). Nothing here touches a socket or the real clock.
//!
//! ```
//! use std::time::Instant;
//! use bytes::Bytes;
//! use grpc_sansio::{client, server, testing::Pair};
//!
//! let mut pair = Pair::new(client::Config::default(), server::Config::default(), Instant::now());
//! let call = pair.client.start_call(client::Request::new("/echo.Echo/Say"), pair.now).unwrap();
//! pair.client.send_message(call, Bytes::from_static(b"hi")).unwrap();
//! pair.client.half_close(call).unwrap();
//! pair.drive();
//! assert!(matches!(pair.server_events.pop_front(), Some(server::Event::Call { .. })));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::{client, server};

/// A client and a server joined in memory.
#[derive(Debug)]
pub struct Pair {
    /// The client endpoint.
    pub client: client::Connection,
    /// The server endpoint.
    pub server: server::Connection,
    /// The virtual clock.
    pub now: Instant,
    /// Bytes per `recv` call (`usize::MAX`: as transmitted).
    pub split: usize,
    /// When false, bytes for the client pile up unread.
    pub client_reads: bool,
    /// When false, bytes for the server pile up unread.
    pub server_reads: bool,
    /// Events the client produced, not yet looked at.
    pub client_events: VecDeque<client::Event>,
    /// Events the server produced, not yet looked at.
    pub server_events: VecDeque<server::Event>,
    to_client: VecDeque<Bytes>,
    to_server: VecDeque<Bytes>,
}

impl Pair {
    /// A pair at time `now`; the handshake happens on the first steps.
    pub fn new(client: client::Config, server: server::Config, now: Instant) -> Pair {
        Pair {
            client: client::Connection::new(client, now),
            server: server::Connection::new(server, now),
            now,
            split: usize::MAX,
            client_reads: true,
            server_reads: true,
            client_events: VecDeque::new(),
            server_events: VecDeque::new(),
            to_client: VecDeque::new(),
            to_server: VecDeque::new(),
        }
    }

    /// One round: both sides transmit, bytes are delivered (per `split` and
    /// the `*_reads` switches), events collected. Returns whether anything
    /// moved.
    pub fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(t) = self.client.poll_transmit() {
            moved = true;
            queue(&mut self.to_server, t, self.split);
        }
        while let Some(t) = self.server.poll_transmit() {
            moved = true;
            queue(&mut self.to_client, t, self.split);
        }
        if self.server_reads {
            while let Some(b) = self.to_server.pop_front() {
                let _ = self.server.recv(b, self.now);
            }
        }
        if self.client_reads {
            while let Some(b) = self.to_client.pop_front() {
                let _ = self.client.recv(b, self.now);
            }
        }
        while let Some(e) = self.client.poll_event() {
            moved = true;
            self.client_events.push_back(e);
        }
        while let Some(e) = self.server.poll_event() {
            moved = true;
            self.server_events.push_back(e);
        }
        moved
    }

    /// Steps until nothing moves. Returns false if it did not settle within
    /// a bound (a livelock), instead of hanging.
    pub fn drive(&mut self) -> bool {
        for _ in 0..100_000 {
            if !self.step() {
                return true;
            }
        }
        false
    }

    /// Moves the clock forward and fires both sides' timers, then drives.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.drive();
    }

    /// Jumps to the earliest timer of either side, fires it, and drives.
    /// Returns false when no timer is set.
    pub fn advance_to_next_timeout(&mut self) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(t) = next else {
            return false;
        };
        if t > self.now {
            self.now = t;
        }
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.drive();
        true
    }

    /// Starts a call of `path`, half-closed at once if `half_close`, and
    /// drives until the server sees it: the client's and the server's ids
    /// of the call. Server events before the call's are dropped.
    ///
    /// # Panics
    /// If the call cannot start or the server does not see it (this is a
    /// helper for tests).
    pub fn open_call(
        &mut self,
        path: &'static str,
        half_close: bool,
    ) -> (crate::grpc::CallId, crate::grpc::CallId) {
        let c = self
            .client
            .start_call(client::Request::new(path), self.now)
            .expect("the call starts");
        if half_close {
            self.client.half_close(c).expect("half-close");
        }
        self.drive();
        loop {
            match self.server_events.pop_front() {
                Some(server::Event::Call { call, .. }) => return (c, call),
                Some(_) => {}
                None => panic!("the server did not see the call"),
            }
        }
    }

    /// One unary call of `path` whose server echoes `message` and ends
    /// with OK: the reply, or the status the call ended with instead.
    /// Other events of either side are dropped.
    ///
    /// # Panics
    /// If the call cannot start or send (this is a helper for tests).
    pub fn echo_unary(
        &mut self,
        path: &'static str,
        message: &Bytes,
    ) -> Result<Bytes, crate::grpc::Status> {
        let c = self
            .client
            .start_call(client::Request::new(path), self.now)
            .expect("the call starts");
        self.client
            .send_message(c, message.clone())
            .expect("the message is sent");
        self.client.half_close(c).expect("half-close");
        self.drive();
        while let Some(ev) = self.server_events.pop_front() {
            if let server::Event::HalfClose { call } = ev {
                let _ = self.server.send_message(call, message.clone());
                let _ = self.server.finish(
                    call,
                    crate::grpc::Status::ok(),
                    &crate::grpc::Metadata::new(),
                );
            }
        }
        self.drive();
        let mut reply = None;
        let mut status = None;
        while let Some(ev) = self.client_events.pop_front() {
            match ev {
                client::Event::Message { call, data } if call == c => reply = Some(data),
                client::Event::Status {
                    call, status: s, ..
                } if call == c => status = Some(s),
                _ => {}
            }
        }
        match (status, reply) {
            (Some(s), Some(r)) if s.code == crate::grpc::Code::Ok => Ok(r),
            (Some(s), _) => Err(s),
            (None, _) => Err(crate::grpc::Status::internal("the call did not end")),
        }
    }

    /// Bytes waiting to be read by the client and by the server.
    pub fn in_flight(&self) -> (usize, usize) {
        (
            self.to_client.iter().map(Bytes::len).sum(),
            self.to_server.iter().map(Bytes::len).sum(),
        )
    }
}

fn queue(q: &mut VecDeque<Bytes>, t: crate::h2::Transmit, split: usize) {
    for chunk in t {
        let mut off = 0;
        while off < chunk.len() {
            let end = off.saturating_add(split.max(1)).min(chunk.len());
            q.push_back(chunk.slice(off..end));
            off = end;
        }
    }
}
