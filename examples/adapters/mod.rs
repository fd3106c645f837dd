//! Runtime adapters for the examples: the sans-IO connections of this crate
//! driven over TCP by blocking std sockets ([`std_io`]), tokio
//! ([`tokio_io`]) and smol ([`smol_io`]).
//!
//! Every adapter does the same four things, and nothing else:
//! 1. feeds the bytes it reads to `recv` (end of stream to `recv_eof`),
//! 2. writes what `poll_transmit` returns, with vectored writes,
//! 3. sleeps until `poll_timeout` (or the application's own timer) and then
//!    calls `handle_timeout`,
//! 4. hands every event to the application.
//!
//! The application is written once, as a sans-IO state machine too: a
//! [`ServerApp`] per server connection, a [`ClientApp`] for a client
//! connection. The same app runs on every adapter.
//!
//! A connection that fails (a protocol error, a reset socket) is logged and
//! closed; the server and its other connections go on.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use grpc_sansio::h2::Transmit;
use grpc_sansio::{client, server};

pub mod smol_io;
pub mod std_io;
pub mod tokio_io;

/// The application side of one server connection.
pub trait ServerApp: Send + 'static {
    /// One event of the connection; answer through `conn`.
    fn on_event(&mut self, conn: &mut server::Connection, event: server::Event, now: Instant);

    /// When the application wants [`on_timeout`](ServerApp::on_timeout)
    /// called (a reply it delays, say). `None`: no timer.
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The time of [`poll_timeout`](ServerApp::poll_timeout) came.
    fn on_timeout(&mut self, _conn: &mut server::Connection, _now: Instant) {}

    /// State shared between connections changed (see [`Server::wake_all`]),
    /// e.g. a health status that this connection's watchers must see.
    fn on_wake(&mut self, _conn: &mut server::Connection, _now: Instant) {}

    /// The connection went quiet: give back memory kept for reuse, as
    /// [`server::Connection::shrink`] does for the core.
    fn shrink(&mut self) {}
}

/// The application side of a client connection: it starts calls when the
/// connection is up and reacts to their events, until it is done.
pub trait ClientApp {
    /// The connection exists: start the first calls.
    fn start(&mut self, conn: &mut client::Connection, now: Instant);

    /// One event of the connection.
    fn on_event(&mut self, conn: &mut client::Connection, event: client::Event, now: Instant);

    /// When the application wants [`on_timeout`](ClientApp::on_timeout).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// The time of [`poll_timeout`](ClientApp::poll_timeout) came.
    fn on_timeout(&mut self, _conn: &mut client::Connection, _now: Instant) {}

    /// Whether the application has finished; the adapter then shuts the
    /// connection down gracefully and returns.
    fn is_done(&self) -> bool;
}

/// What a server adapter shares between its connections: a way to wake
/// them all, and the shutdown flag.
#[derive(Clone, Default)]
pub struct Server {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    wakers: Mutex<HashMap<u64, Waker>>,
    shutting_down: AtomicBool,
    forced: AtomicBool,
    next_id: std::sync::atomic::AtomicU64,
    limits: Limits,
}

/// How long a connection that is force-closed (after the grace period)
/// may take to write its last bytes (trailers, resets, GOAWAY).
pub const FORCED_WRITE: Duration = Duration::from_millis(100);

/// The end of an async adapter's `serve`, once shutdown began and no
/// connection is accepted any more: waits up to the grace period for the
/// connections to close, then has the rest end their calls with
/// [`shutdown_status`] and waits a little longer than their last writes may
/// take ([`FORCED_WRITE`]). `sleep` is the runtime's timer.
pub async fn drain_connections<F: std::future::Future>(
    server: &Server,
    sleep: impl Fn(Duration) -> F,
) {
    let grace = server.limits().shutdown_grace;
    let give_up = Instant::now() + grace;
    while server.connections() > 0 && Instant::now() < give_up {
        sleep(Duration::from_millis(10)).await;
    }
    if server.connections() > 0 {
        eprintln!(
            "shutdown: {} connection(s) still open after {grace:?}: closing them",
            server.connections()
        );
        // Each ends its calls with UNAVAILABLE and writes its GOAWAY.
        server.force_close();
        let give_up = Instant::now() + 2 * FORCED_WRITE;
        while server.connections() > 0 && Instant::now() < give_up {
            sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The status of the calls still open when the grace period ends.
pub fn shutdown_status() -> grpc_sansio::grpc::Status {
    grpc_sansio::grpc::Status::unavailable("server is shutting down")
}

/// The limits of a server adapter (see [`Server::with_limits`]).
#[derive(Clone, Debug)]
pub struct Limits {
    /// The most connections served at once; one past it is refused with
    /// the server preface and GOAWAY(REFUSED_STREAM, "too many
    /// connections"), then closed. It bounds the std adapter's threads (a
    /// thread, its stack and its buffers per connection). Default 4,096.
    /// Applies to the std adapter.
    pub max_connections: usize,
    /// How long a graceful shutdown lets calls finish before the adapter
    /// ends the rest with UNAVAILABLE and closes. Default 10 s.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Server {
    /// A server with `limits` instead of the defaults.
    pub fn with_limits(limits: Limits) -> Server {
        Server {
            inner: Arc::new(Inner {
                limits,
                ..Inner::default()
            }),
        }
    }

    /// The server's limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// A new id for a connection.
    pub fn next_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers how to wake connection `id`.
    pub fn register(&self, id: u64, waker: Waker) {
        lock(&self.inner.wakers).insert(id, waker);
    }

    /// Connection `id` is gone.
    pub fn unregister(&self, id: u64) {
        lock(&self.inner.wakers).remove(&id);
    }

    /// How many connections are registered.
    pub fn connections(&self) -> usize {
        lock(&self.inner.wakers).len()
    }

    /// Wakes every connection: each calls its app's `on_wake`.
    pub fn wake_all(&self) {
        for w in lock(&self.inner.wakers).values() {
            w.wake_by_ref();
        }
    }

    /// Starts a graceful shutdown: no new connections; every connection
    /// sends GOAWAY, lets its calls finish and closes.
    pub fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    /// The grace period is over: every connection still open ends its
    /// calls with [`shutdown_status`] (`force_close`), writes what it can
    /// within [`FORCED_WRITE`] and closes.
    pub fn force_close(&self) {
        self.inner.forced.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    /// Whether [`force_close`](Server::force_close) was called.
    pub fn is_forced(&self) -> bool {
        self.inner.forced.load(Ordering::SeqCst)
    }

    /// Whether [`shutdown`](Server::shutdown) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }
}

/// Locks, ignoring poisoning (a panicked connection thread must not take
/// the others down).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The earlier of two optional instants.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Polls every pending event of a server connection into the app.
pub fn dispatch_server<A: ServerApp>(conn: &mut server::Connection, app: &mut A, now: Instant) {
    if app.poll_timeout().is_some_and(|t| t <= now) {
        app.on_timeout(conn, now);
    }
    while let Some(event) = conn.poll_event() {
        if let server::Event::Closed { error: Some(e) } = &event {
            eprintln!("connection closed with error: {e}");
        }
        app.on_event(conn, event, now);
    }
}

/// Polls every pending event of a client connection into the app.
pub fn dispatch_client<A: ClientApp>(conn: &mut client::Connection, app: &mut A, now: Instant) {
    if app.poll_timeout().is_some_and(|t| t <= now) {
        app.on_timeout(conn, now);
    }
    while let Some(event) = conn.poll_event() {
        app.on_event(conn, event, now);
    }
}

/// The read side's buffer: holds no memory while its connection is idle,
/// sizes its reads to the traffic, and never lets a chunk it hands over pin
/// much more memory than the chunk itself.
///
/// **The contract with the core.** The core keeps slices of the `Bytes`
/// given to `recv` (DATA payloads are zero-copy). A chunk this buffer
/// produces pins an allocation of at most [`PIN_RATIO`](Self::PIN_RATIO)
/// times its length, or its own exact-size copy:
/// - a read of at least a sixteenth of the room's allocation is handed
///   over as a slice of it (zero-copy: bulk transfers are never copied),
///   and the rest of the room serves the next reads under the same rule;
/// - a smaller read is copied into a `Bytes` of its own length and the room
///   is reused in place for the next read (no allocation beyond that copy).
///
/// So a peer that sends tiny frames one per read (or one per quiet period,
/// when a fresh room would be allocated for each) makes the core pin about
/// what it sent, not a read buffer per byte.
///
/// A read that fills the room it was given doubles the next one (up to
/// [`ReadBuffer::MAX`]), so bulk transfers take few, large reads; small
/// reads halve it (down to [`ReadBuffer::MIN`]). A room handed over leaves
/// its allocation behind as a spare, reused in place once the core let go
/// of it (fresh memory for every read would cost a page fault per 4 KiB).
/// Once no read came for [`ReadBuffer::QUIET`], both are let go: an idle
/// connection holds no read buffer. The adapter's timer includes
/// [`release_at`](Self::release_at).
///
/// Reads go through [`read`](Self::read) or [`read_buf`](Self::read_buf),
/// which own the room for the read's duration: whatever the read returns
/// (bytes, end of stream, a timeout, would-block), only the bytes read are
/// handed over and the room is left ready for the next read.
pub struct ReadBuffer {
    /// The room. It never holds data between reads; its length is only
    /// how much of it is initialized (for [`read`](Self::read)).
    buf: BytesMut,
    /// The capacity `buf`'s allocation had when it became the room: what
    /// a slice of it pins.
    alloc: usize,
    /// The allocation used before `buf`, kept to be reused once free.
    spare: BytesMut,
    size: usize,
    /// When the last read came, while `buf` or `spare` holds memory.
    last_read: Option<Instant>,
    /// When to look whether reads stopped: moved only when it passes, so
    /// a busy connection does not re-arm its timer on every read.
    check_at: Option<Instant>,
}

impl Default for ReadBuffer {
    fn default() -> Self {
        ReadBuffer {
            buf: BytesMut::new(),
            alloc: 0,
            spare: BytesMut::new(),
            size: Self::MIN,
            last_read: None,
            check_at: None,
        }
    }
}

impl ReadBuffer {
    /// The smallest read.
    pub const MIN: usize = 4 << 10;
    /// The largest read.
    pub const MAX: usize = 256 << 10;
    /// How long without a read before the buffers are let go.
    pub const QUIET: Duration = Duration::from_millis(50);
    /// A chunk handed over without a copy is at least the room's
    /// allocation divided by this. 4 (the core's own compaction ratio)
    /// copied enough reads of loopback streaming to cost 28% of its
    /// throughput; 16 keeps a tiny read's buffer from being pinned (it is
    /// copied) at a cost within a few percent.
    pub const PIN_RATIO: usize = 16;

    /// Reads into the room for the next read through `read`, which gets
    /// initialized bytes (a socket's `read(&mut [u8])`, as std and smol
    /// read) and returns how many it filled. Call only when the socket is
    /// readable (or in a blocking read), so that an idle connection
    /// allocates nothing.
    ///
    /// Whatever `read` returns, the buffer keeps no stale length: only the
    /// bytes read are handed over, and a read that failed, timed out or
    /// would block leaves the room as it found it. The room is zeroed once
    /// per allocation, not per read.
    pub fn read(
        &mut self,
        now: Instant,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> Input {
        let buf = self.room();
        let cap = buf.capacity();
        if buf.len() < cap {
            buf.resize(cap, 0);
        }
        let result = read(&mut buf[..]);
        // A count past the room is the closure's bug: keep what exists.
        let n = result.as_ref().map_or(0, |&n| n.min(cap));
        self.finish(result, n, now)
    }

    /// Reads into the room for the next read through `read`, which gets
    /// the empty buffer with the room as spare capacity and appends what it
    /// reads there (tokio's `try_read_buf`), returning how many bytes. The
    /// bytes handed over are the ones appended; see [`read`](Self::read).
    pub fn read_buf(
        &mut self,
        now: Instant,
        read: impl FnOnce(&mut BytesMut) -> io::Result<usize>,
    ) -> Input {
        let buf = self.room();
        buf.clear();
        let result = read(buf);
        let n = self.buf.len();
        self.finish(result, n, now)
    }

    /// Room for the next read: at least `size` bytes of capacity, and not
    /// much more (a room kept from larger reads is let go once the reads
    /// got small). It holds no data.
    fn room(&mut self) -> &mut BytesMut {
        let cap = self.buf.capacity();
        // What is left of the room must take a read of the usual size, and
        // a read filling it must still be a fair share of the allocation.
        if cap < (self.size / 2).max(Self::MIN)
            || cap * Self::PIN_RATIO < self.alloc
            || cap > 4 * self.size
        {
            // The two allocations take turns: when one was used up, the
            // core usually still holds a slice of it (the start of a
            // frame), while the other is free again by then.
            let old = std::mem::take(&mut self.buf);
            self.spare.clear();
            if self.spare.capacity() <= 4 * self.size && self.spare.try_reclaim(self.size) {
                self.buf = std::mem::replace(&mut self.spare, old);
            } else {
                self.buf = BytesMut::with_capacity(self.size);
                self.spare = old;
            }
            self.alloc = self.buf.capacity();
        }
        &mut self.buf
    }

    /// What a read into the room gave: `n` bytes, at its start, go to the
    /// core.
    fn finish(&mut self, result: io::Result<usize>, n: usize, now: Instant) -> Input {
        use io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
        match result {
            Ok(0) => {
                self.nothing_read(now);
                Input::Eof
            }
            Ok(_) if n == 0 => {
                self.nothing_read(now);
                Input::Nothing
            }
            Ok(_) => Input::Data(self.hand_over(n, now)),
            Err(e) if matches!(e.kind(), WouldBlock | TimedOut | Interrupted) => {
                self.nothing_read(now);
                Input::Nothing
            }
            Err(e) => Input::Failed(e),
        }
    }

    /// The `n` bytes read into the room, for the core, under the contract
    /// of the type's docs: a fair share of the allocation goes as a slice
    /// of it, less as an exact copy (the room stays for the next read).
    fn hand_over(&mut self, n: usize, now: Instant) -> Bytes {
        let room = self.buf.capacity();
        let data = if n * Self::PIN_RATIO >= self.alloc {
            self.buf.split_to(n).freeze()
        } else {
            Bytes::copy_from_slice(&self.buf[..n])
        };
        if n >= room {
            self.size = (self.size * 2).min(Self::MAX);
        } else if n < self.size / 4 {
            self.size = (self.size / 2).max(Self::MIN);
        }
        self.read_at(now);
        data
    }

    fn read_at(&mut self, now: Instant) {
        self.last_read = Some(now);
        self.check_at.get_or_insert(now + Self::QUIET);
    }

    /// A read found nothing (readiness was stale) at `now`: whatever room
    /// was taken for it is let go after [`QUIET`](Self::QUIET) too.
    fn nothing_read(&mut self, now: Instant) {
        if self.last_read.is_none() {
            self.read_at(now);
        }
    }

    /// When to call [`on_timer`](Self::on_timer) (`None`: nothing held).
    pub fn release_at(&self) -> Option<Instant> {
        self.check_at
    }

    /// Lets go of the buffers if no read came for [`QUIET`](Self::QUIET)
    /// and returns true (the connection went quiet: a moment to call its
    /// `shrink` too); otherwise looks again `QUIET` after the last read.
    pub fn on_timer(&mut self, now: Instant) -> bool {
        let (Some(check), Some(last)) = (self.check_at, self.last_read) else {
            return false;
        };
        if check > now {
            return false;
        }
        if last + Self::QUIET <= now {
            self.buf = BytesMut::new();
            self.alloc = 0;
            self.spare = BytesMut::new();
            self.last_read = None;
            self.check_at = None;
            true
        } else {
            self.check_at = Some(last + Self::QUIET);
            false
        }
    }
}

/// What one read into a [`ReadBuffer`] gave.
#[derive(Debug)]
pub enum Input {
    /// Bytes for the core (never empty).
    Data(Bytes),
    /// The peer closed its side: end of stream for the core.
    Eof,
    /// Nothing after all: the read would block, timed out or was
    /// interrupted (stale readiness, or a blocking read's timeout).
    Nothing,
    /// The socket failed.
    Failed(io::Error),
}

impl Input {
    /// The step of an async adapter's wait that this read makes.
    pub fn into_step(self) -> Step {
        match self {
            Input::Data(data) => Step::Read(Ok(data)),
            Input::Eof => Step::Read(Ok(Bytes::new())),
            Input::Nothing => Step::Spurious,
            Input::Failed(e) => Step::Read(Err(e)),
        }
    }
}

/// The bytes of one [`Transmit`] that the socket has not taken yet.
///
/// The async adapters write while they wait for input, so a write may be
/// interrupted by a read and resumed later: the outbox remembers where it
/// stopped. It holds one `Transmit` at a time, taken from the connection
/// only once the previous one is out, so the core's bound on queued output
/// stays the bound.
#[derive(Default)]
pub struct Outbox {
    chunks: VecDeque<Bytes>,
}

impl Outbox {
    /// Whether everything was written.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Queues the chunks of `t` (cheap clones of the core's `Bytes`).
    pub fn push(&mut self, t: &Transmit) {
        self.chunks
            .extend(t.chunks().iter().filter(|c| !c.is_empty()).cloned());
    }

    /// The unwritten bytes, for one `write_vectored`.
    pub fn slices(&self) -> smallvec::SmallVec<[IoSlice<'_>; 8]> {
        self.chunks.iter().map(|c| IoSlice::new(c)).collect()
    }

    /// Gives back the queue's memory if it is empty.
    pub fn shrink(&mut self) {
        if self.chunks.is_empty() {
            self.chunks = VecDeque::new();
        }
    }

    /// `n` bytes were written.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            let k = n.min(front.len());
            front.advance(k);
            n -= k;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
    }
}

/// One of the three adapters, chosen at run time (the examples'
/// `--runtime`, the tests' loop over all three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// [`std_io`]: blocking sockets and threads.
    Std,
    /// [`tokio_io`]: a multi-threaded tokio runtime.
    Tokio,
    /// [`smol_io`]: smol's global executor.
    Smol,
}

impl Runtime {
    /// All three.
    pub const ALL: [Runtime; 3] = [Runtime::Std, Runtime::Tokio, Runtime::Smol];

    /// Runs the adapter's `serve` on a thread of its own (with a runtime of
    /// its own for tokio); the thread ends when `serve` returns, after
    /// [`Server::shutdown`]. With `signals`, Ctrl-C and SIGTERM call it.
    pub fn serve_in_thread<A, F>(
        self,
        listener: std::net::TcpListener,
        server: Server,
        config: server::Config,
        make_app: F,
        signals: bool,
    ) -> std::thread::JoinHandle<std::io::Result<()>>
    where
        A: ServerApp,
        F: Fn(u64) -> A + Send + 'static,
    {
        std::thread::spawn(move || match self {
            Runtime::Std => {
                if signals {
                    std_io::shutdown_on_signal(&server);
                }
                std_io::serve(listener, server, config, make_app)
            }
            Runtime::Tokio => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                rt.block_on(async {
                    listener.set_nonblocking(true)?;
                    let listener = tokio::net::TcpListener::from_std(listener)?;
                    if signals {
                        tokio_io::shutdown_on_signal(&server);
                    }
                    tokio_io::serve(listener, server, config, make_app).await
                })
            }
            Runtime::Smol => {
                if signals {
                    smol_io::shutdown_on_signal(&server);
                }
                let listener = smol::net::TcpListener::try_from(listener)?;
                smol::block_on(smol_io::serve(listener, server, config, make_app))
            }
        })
    }

    /// Runs the adapter's `run_client` in this thread until `app` is done.
    pub fn run_client<A: ClientApp>(
        self,
        addr: std::net::SocketAddr,
        config: client::Config,
        app: &mut A,
    ) -> std::io::Result<()> {
        match self {
            Runtime::Std => std_io::run_client(addr, config, app),
            Runtime::Tokio => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(tokio_io::run_client(addr, config, app)),
            Runtime::Smol => smol::block_on(smol_io::run_client(addr, config, app)),
        }
    }
}

impl std::fmt::Display for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Runtime::Std => "std",
            Runtime::Tokio => "tokio",
            Runtime::Smol => "smol",
        })
    }
}

impl std::str::FromStr for Runtime {
    type Err = String;

    fn from_str(s: &str) -> Result<Runtime, String> {
        match s {
            "std" => Ok(Runtime::Std),
            "tokio" => Ok(Runtime::Tokio),
            "smol" => Ok(Runtime::Smol),
            _ => Err(format!("unknown runtime {s:?}: std, tokio or smol")),
        }
    }
}

/// What ended one wait of an async adapter's connection loop.
pub enum Step {
    /// Bytes read (empty: the peer closed its side).
    Read(std::io::Result<Bytes>),
    /// A write took this many bytes (or failed).
    Wrote(std::io::Result<usize>),
    /// A wake from another connection ([`Server::wake_all`]).
    Wake,
    /// The timer of [`ServerLoop::deadline`] / [`ClientLoop::deadline`].
    Timer,
    /// Readiness without bytes after all.
    Spurious,
}

/// What an async adapter does around one server connection between its
/// waits (the waits are the adapter's own): shutdown, timers, events and
/// output before a wait, then what the wait gave. Shared by tokio and smol.
pub struct ServerLoop<A> {
    /// The core's connection.
    pub conn: server::Connection,
    /// The application on it.
    pub app: A,
    /// The output being written.
    pub out: Outbox,
    /// The read side's buffer.
    pub buf: ReadBuffer,
    /// Whether the peer closed its side (no more reads).
    pub eof: bool,
    shut: bool,
    /// When the connection was force-closed ([`Server::force_close`]).
    forced: Option<Instant>,
    id: u64,
}

impl<A: ServerApp> ServerLoop<A> {
    /// A loop for connection `id`.
    pub fn new(id: u64, config: server::SharedConfig, app: A) -> Self {
        ServerLoop {
            conn: server::Connection::new(config, Instant::now()),
            app,
            out: Outbox::default(),
            buf: ReadBuffer::default(),
            eof: false,
            shut: false,
            forced: None,
            id,
        }
    }

    /// The work before a wait; false once the connection is over.
    pub fn before_wait(&mut self, server: &Server) -> bool {
        let now = Instant::now();
        if server.is_shutting_down() && !self.shut {
            self.conn.shutdown(now);
            self.shut = true;
        }
        if server.is_forced() && self.forced.is_none() {
            self.conn.force_close(shutdown_status(), now);
            self.forced = Some(now);
        }
        if self.forced.is_some_and(|t| now >= t + FORCED_WRITE) {
            return false;
        }
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        dispatch_server(&mut self.conn, &mut self.app, now);
        if self.out.is_empty()
            && let Some(t) = self.conn.poll_transmit()
        {
            self.out.push(&t);
        }
        !(self.out.is_empty() && self.conn.is_closed())
    }

    /// When the wait must end at the latest ([`Step::Timer`]).
    pub fn deadline(&self) -> Option<Instant> {
        earliest(
            earliest(
                earliest(self.conn.poll_timeout(), self.app.poll_timeout()),
                self.buf.release_at(),
            ),
            self.forced.map(|t| t + FORCED_WRITE),
        )
    }

    /// Applies what the wait gave: `Ok(true)` when the connection just
    /// went quiet (the core, the app and the outbox gave back their spare
    /// memory; the adapter may let go of its own); `Err` ends the
    /// connection.
    pub fn after_wait(&mut self, step: Step) -> std::io::Result<bool> {
        let now = Instant::now();
        match step {
            Step::Read(Ok(data)) if data.is_empty() => {
                self.eof = true;
                self.conn.recv_eof(now);
            }
            Step::Read(Ok(data)) => {
                if let Err(e) = self.conn.recv(data, now) {
                    // GOAWAY is queued; it goes out next round.
                    eprintln!("connection {}: {e}", self.id);
                }
            }
            Step::Read(Err(e)) | Step::Wrote(Err(e)) => {
                self.conn.recv_eof(now);
                dispatch_server(&mut self.conn, &mut self.app, now);
                return Err(e);
            }
            Step::Wrote(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Step::Wrote(Ok(n)) => self.out.advance(n),
            Step::Wake => self.app.on_wake(&mut self.conn, now),
            Step::Timer => {
                if self.buf.on_timer(now) {
                    self.conn.shrink();
                    self.app.shrink();
                    self.out.shrink();
                    return Ok(true);
                }
            }
            Step::Spurious => {}
        }
        Ok(false)
    }
}

/// [`ServerLoop`] for a client connection and its app.
pub struct ClientLoop<'a, A> {
    /// The core's connection.
    pub conn: client::Connection,
    /// The application on it.
    pub app: &'a mut A,
    /// The output being written.
    pub out: Outbox,
    /// The read side's buffer.
    pub buf: ReadBuffer,
    /// Whether the peer closed its side (no more reads).
    pub eof: bool,
    shut: bool,
}

impl<'a, A: ClientApp> ClientLoop<'a, A> {
    /// A new connection with `app` started on it.
    pub fn new(config: client::Config, app: &'a mut A) -> Self {
        let mut conn = client::Connection::new(config, Instant::now());
        app.start(&mut conn, Instant::now());
        ClientLoop {
            conn,
            app,
            out: Outbox::default(),
            buf: ReadBuffer::default(),
            eof: false,
            shut: false,
        }
    }

    /// The work before a wait; false once the connection is over (the app
    /// is done and its calls ended, or the connection closed).
    pub fn before_wait(&mut self) -> bool {
        let now = Instant::now();
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        dispatch_client(&mut self.conn, self.app, now);
        if self.app.is_done() && !self.shut {
            self.conn.shutdown(now);
            self.shut = true;
        }
        if self.out.is_empty()
            && let Some(t) = self.conn.poll_transmit()
        {
            self.out.push(&t);
        }
        let over = self.conn.is_closed() || (self.shut && self.conn.active_calls() == 0);
        !(self.out.is_empty() && over)
    }

    /// When the wait must end at the latest ([`Step::Timer`]).
    pub fn deadline(&self) -> Option<Instant> {
        earliest(
            earliest(self.conn.poll_timeout(), self.app.poll_timeout()),
            self.buf.release_at(),
        )
    }

    /// Applies what the wait gave, as [`ServerLoop::after_wait`].
    pub fn after_wait(&mut self, step: Step) -> std::io::Result<bool> {
        let now = Instant::now();
        match step {
            Step::Read(Ok(data)) if data.is_empty() => {
                self.eof = true;
                self.conn.recv_eof(now);
            }
            Step::Read(Ok(data)) => {
                if let Err(e) = self.conn.recv(data, now) {
                    eprintln!("client connection: {e}");
                }
            }
            Step::Read(Err(e)) | Step::Wrote(Err(e)) => {
                self.conn.recv_eof(now);
                dispatch_client(&mut self.conn, self.app, now);
                return Err(e);
            }
            Step::Wrote(Ok(0)) => return Err(std::io::ErrorKind::WriteZero.into()),
            Step::Wrote(Ok(n)) => self.out.advance(n),
            Step::Timer => {
                if self.buf.on_timer(now) {
                    self.conn.shrink();
                    self.out.shrink();
                    return Ok(true);
                }
            }
            Step::Wake | Step::Spurious => {}
        }
        Ok(false)
    }
}
