//! Blocking std sockets: a thread per server connection, and a blocking
//! client in the caller's thread.
//!
//! A connection's thread reads its socket itself, so a request is read,
//! handled and answered with two system calls and no hand-over between
//! threads (the lowest latency the kernel allows: the thread waiting in
//! `read` is woken straight by the data). Writes go out with
//! `write_vectored`, straight from the core's chunks. What a blocking read
//! cannot wait for is bounded instead of waited for:
//! - the next timer: the socket's read timeout ([`ReadTimeout`]);
//! - a wake from another connection ([`Server::wake_all`]): seen when the
//!   read returns, within [`IDLE_AFTER`];
//! - output the peer does not take: writes give up after [`WRITE_SLICE`]
//!   and the thread reads meanwhile, in slices as short, so two blocking
//!   peers that both write can never wait for each other for ever.
//!
//! A connection without input for [`IDLE_AFTER`] stops reading and parks
//! its thread; one thread for all of them ([`IdleWatch`]) waits in one
//! poller (epoll, through mio) for any of their sockets to become readable
//! and unparks the connection's thread, and a wake unparks it directly. An
//! idle connection thus costs no CPU and holds no read buffer, and a busy
//! one reads straight from the socket with no extra system call.
//!
//! Connections are capped ([`Limits::max_connections`](super::Limits::max_connections)): one past the cap
//! gets the server preface and GOAWAY(REFUSED_STREAM, "too many
//! connections") and is closed, without a thread.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grpc_sansio::frame::{GoAway, StreamId};
use grpc_sansio::h2::Transmit;
use grpc_sansio::{ErrorCode, client, server};
use mio::unix::SourceFd;

use super::{
    ClientApp, Input, Outbox, ReadBuffer, Server, ServerApp, dispatch_client, dispatch_server,
    earliest, lock,
};

/// How long a graceful shutdown waits for connections by default (see
/// [`Limits::shutdown_grace`](super::Limits::shutdown_grace)).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long a server connection goes without input before it parks in the
/// idle poller ([`IdleWatch`]) instead of blocking in `read`: the longest a
/// wake ([`Server::wake_all`]) waits for a connection that is reading.
pub const IDLE_AFTER: Duration = Duration::from_millis(50);

/// How often a client whose peer closed its side looks at its timers when
/// it has none (it has nothing else to wait for).
const EOF_POLL: Duration = Duration::from_millis(100);

/// How long a write may wait for room in the socket before the thread
/// reads instead (and how long those reads wait while output waits).
pub const WRITE_SLICE: Duration = Duration::from_millis(2);

/// A blocking socket's read timeout, kept in step with a connection's next
/// timer with few system calls.
///
/// The timeout is a duration from the start of each read, so it has to
/// follow the clock; it is set again only when it is more than
/// [`SLACK`](Self::SLACK) off the time left (a connection busy with
/// reads resets it about once per `SLACK`, not once per read). A read thus
/// returns at most `SLACK` after the timer is due.
#[derive(Default)]
struct ReadTimeout {
    set: Option<Duration>,
}

impl ReadTimeout {
    const SLACK: Duration = Duration::from_millis(1);
    /// The shortest timeout (zero would mean none at all).
    const MIN: Duration = Duration::from_micros(50);

    /// Makes the next read on `socket` return by `at` (`None`: no timer).
    fn arm(&mut self, socket: &TcpStream, at: Option<Instant>, now: Instant) -> io::Result<()> {
        let want = at.map(|at| at.saturating_duration_since(now).max(Self::MIN));
        let close_enough = match (self.set, want) {
            (None, None) => true,
            (Some(set), Some(want)) => set.abs_diff(want) <= Self::SLACK,
            _ => false,
        };
        if !close_enough {
            socket.set_read_timeout(want)?;
            self.set = want;
        }
        Ok(())
    }
}

/// A [`Waker`] that sends on a channel (the thread of `serve` waits on it).
struct ChannelWake(Mutex<Sender<()>>);

impl Wake for ChannelWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let _ = lock(&self.0).send(());
    }
}

/// A server connection's thread as the idle poller and the wakes see it:
/// its handle, and what happened while it was parked. It is the
/// connection's [`Waker`]: a wake raises `woken` and unparks the thread.
struct Parked {
    thread: Thread,
    readable: AtomicBool,
    woken: AtomicBool,
}

impl Wake for Parked {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// The token of [`IdleWatch`]'s own waker (connection ids are below it).
const STOP: mio::Token = mio::Token(usize::MAX);

/// One poller and one thread for the idle connections of a server: a
/// connection that goes idle registers its socket (one-shot interest, as
/// mio's registrations are edge-triggered and removed after use) and parks;
/// the watch unparks it when the socket becomes readable. No file
/// descriptor per connection beyond its socket. The thread ends when the
/// watch is dropped.
pub struct IdleWatch {
    registry: mio::Registry,
    parked: Arc<Mutex<HashMap<usize, Arc<Parked>>>>,
    stop: mio::Waker,
}

impl Drop for IdleWatch {
    fn drop(&mut self) {
        let _ = self.stop.wake();
    }
}

impl IdleWatch {
    /// A poller and its thread.
    pub fn start() -> io::Result<Arc<IdleWatch>> {
        let mut poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let stop = mio::Waker::new(poll.registry(), STOP)?;
        let parked: Arc<Mutex<HashMap<usize, Arc<Parked>>>> = Arc::default();
        let table = parked.clone();
        std::thread::Builder::new()
            .name("idle-watch".into())
            .spawn(move || {
                let mut events = mio::Events::with_capacity(256);
                loop {
                    match poll.poll(&mut events, None) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            eprintln!("idle poller: {e}");
                            return;
                        }
                    }
                    let table = lock(&table);
                    for event in &events {
                        if event.token() == STOP {
                            return;
                        }
                        if let Some(p) = table.get(&event.token().0) {
                            p.readable.store(true, Ordering::SeqCst);
                            p.thread.unpark();
                        }
                    }
                }
            })?;
        Ok(Arc::new(IdleWatch {
            registry,
            parked,
            stop,
        }))
    }

    /// Parks the calling connection thread (`id`, `parked`) until its
    /// socket is readable (when `socket` is given), a wake comes, or
    /// `until`. Whether the socket became readable.
    fn wait(
        &self,
        id: u64,
        parked: &Parked,
        socket: Option<&TcpStream>,
        until: Option<Instant>,
    ) -> io::Result<bool> {
        // Readiness left from an earlier idle period is stale: the
        // registration below reports the socket's state afresh.
        parked.readable.store(false, Ordering::SeqCst);
        let fd = socket.map(|s| s.as_raw_fd());
        if let Some(fd) = &fd {
            self.registry.register(
                &mut SourceFd(fd),
                mio::Token(id as usize),
                mio::Interest::READABLE,
            )?;
        }
        loop {
            if parked.readable.load(Ordering::SeqCst) || parked.woken.load(Ordering::SeqCst) {
                break;
            }
            let now = Instant::now();
            match until {
                Some(t) if t <= now => break,
                Some(t) => std::thread::park_timeout(t - now),
                None => std::thread::park(),
            }
        }
        if let Some(fd) = &fd {
            let _ = self.registry.deregister(&mut SourceFd(fd));
        }
        Ok(parked.readable.load(Ordering::SeqCst))
    }
}

/// Makes Ctrl-C (and SIGTERM) start `server`'s graceful shutdown.
pub fn shutdown_on_signal(server: &Server) {
    let server = server.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        eprintln!("signal: shutting down");
        server.shutdown();
    }) {
        eprintln!("cannot catch signals: {e}");
    }
}

/// Accepts connections on `listener` until `server` shuts down, each on a
/// thread of its own with an app from `make_app(connection id)`, up to
/// [`Limits::max_connections`](super::Limits::max_connections) at once (one more is refused with GOAWAY).
/// Returns when, after the shutdown, every connection closed (or the grace
/// period, [`Limits::shutdown_grace`](super::Limits::shutdown_grace), ran out).
pub fn serve<A, F>(
    listener: TcpListener,
    server: Server,
    config: impl Into<server::SharedConfig>,
    make_app: F,
) -> io::Result<()>
where
    A: ServerApp,
    F: Fn(u64) -> A + Send + 'static,
{
    // Checked once; each connection gets a pointer to it.
    let config: server::SharedConfig = config.into();
    let watch = IdleWatch::start()?;
    let live = Arc::new(AtomicUsize::new(0));
    let srv = server.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            if srv.is_shutting_down() {
                break;
            }
            let socket = match socket {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let max = srv.limits().max_connections;
            if live.load(Ordering::SeqCst) >= max {
                refuse(socket, &config, max);
                continue;
            }
            live.fetch_add(1, Ordering::SeqCst);
            let id = srv.next_id();
            let app = make_app(id);
            let (srv, config, watch, live) =
                (srv.clone(), config.clone(), watch.clone(), live.clone());
            let spawned = std::thread::Builder::new().spawn(move || {
                let peer = socket.peer_addr().ok();
                if let Err(e) = run_server_connection(socket, id, &srv, config, &watch, app) {
                    eprintln!("connection {id} ({peer:?}): {e}");
                }
                live.fetch_sub(1, Ordering::SeqCst);
            });
            if let Err(e) = spawned {
                // The socket went with the closure: closed.
                eprintln!("connection {id}: no thread for it: {e}");
            }
        }
    });
    // The accept thread blocks in accept(); this thread waits for the end.
    let (tx, rx) = mpsc::channel::<()>();
    server.register(u64::MAX, Waker::from(Arc::new(ChannelWake(Mutex::new(tx)))));
    while !server.is_shutting_down() {
        let _ = rx.recv();
    }
    server.unregister(u64::MAX);
    let give_up = Instant::now() + server.limits().shutdown_grace;
    while server.connections() > 0 && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
    }
    force_the_rest(&server);
    Ok(())
}

/// After the grace period: the connections still open end their calls
/// with [`super::shutdown_status`] and close; waits for them a little
/// longer than they may take ([`super::FORCED_WRITE`]).
fn force_the_rest(server: &Server) {
    if server.connections() == 0 {
        return;
    }
    eprintln!(
        "shutdown: {} connection(s) still open after the grace period: closing them",
        server.connections()
    );
    server.force_close();
    let give_up = Instant::now() + 2 * super::FORCED_WRITE;
    while server.connections() > 0 && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Refuses a connection past the cap: the server preface (SETTINGS) and
/// GOAWAY(REFUSED_STREAM, "too many connections"), nothing processed, then
/// closed. The client's first bytes are read (a few milliseconds at most)
/// so that closing does not reset the connection before the client read
/// the GOAWAY.
fn refuse(mut socket: TcpStream, config: &server::SharedConfig, max: usize) {
    let peer = socket.peer_addr().ok();
    eprintln!("connection from {peer:?} refused: too many connections (max {max})");
    let mut conn = server::Connection::new(config.clone(), Instant::now());
    let mut wire = BytesMut::new();
    while let Some(t) = conn.poll_transmit() {
        for c in t.chunks() {
            wire.extend_from_slice(c);
        }
    }
    GoAway {
        last_stream_id: StreamId::ZERO,
        code: ErrorCode::REFUSED_STREAM,
        debug_data: Bytes::from_static(b"too many connections"),
    }
    .encode(&mut wire);
    let _ = socket.set_write_timeout(Some(WRITE_SLICE));
    let _ = socket.write_all(&wire);
    let _ = socket.shutdown(Shutdown::Write);
    let _ = socket.set_read_timeout(Some(Duration::from_millis(5)));
    let mut sink = [0; 1024];
    for _ in 0..4 {
        if !matches!(socket.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

/// Drives one server connection until it closes; idle, it waits in
/// `watch`.
pub fn run_server_connection<A: ServerApp>(
    socket: TcpStream,
    id: u64,
    server: &Server,
    config: server::SharedConfig,
    watch: &IdleWatch,
    mut app: A,
) -> io::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_SLICE))?;
    let parked = Arc::new(Parked {
        thread: std::thread::current(),
        readable: AtomicBool::new(false),
        woken: AtomicBool::new(false),
    });
    lock(&watch.parked).insert(id as usize, parked.clone());
    server.register(id, Waker::from(parked.clone()));
    let mut conn = server::Connection::new(config, Instant::now());
    let result = drive_server(&socket, id, server, &mut conn, &mut app, watch, &parked);
    server.unregister(id);
    lock(&watch.parked).remove(&(id as usize));
    let _ = socket.shutdown(Shutdown::Both);
    result
}

fn drive_server<A: ServerApp>(
    socket: &TcpStream,
    id: u64,
    server: &Server,
    conn: &mut server::Connection,
    app: &mut A,
    watch: &IdleWatch,
    parked: &Parked,
) -> io::Result<()> {
    let (mut out, mut reads) = (Outbox::default(), ReadBuffer::default());
    let mut read_timeout = ReadTimeout::default();
    let (mut shut, mut eof, mut idle) = (false, false, false);
    let mut last_input = Instant::now();
    let mut forced: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if server.is_shutting_down() && !shut {
            conn.shutdown(now);
            shut = true;
        }
        if server.is_forced() && forced.is_none() {
            conn.force_close(super::shutdown_status(), now);
            forced = Some(now);
        }
        if forced.is_some_and(|t| now >= t + super::FORCED_WRITE) {
            return Ok(());
        }
        if parked.woken.swap(false, Ordering::SeqCst) {
            app.on_wake(conn, now);
        }
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
        // Events, then what the socket takes now; again while that makes
        // more (sending frees room, which the app may fill at once).
        loop {
            dispatch_server(conn, app, now);
            if !write_some(socket, || conn.poll_transmit(), &mut out)? {
                break;
            }
        }
        if out.is_empty() && conn.is_closed() {
            return Ok(());
        }
        let timer = earliest(
            earliest(conn.poll_timeout(), app.poll_timeout()),
            forced.map(|t| t + super::FORCED_WRITE),
        );
        if out.is_empty() && (idle || eof) {
            // Quiet: give back what is kept for reuse (the read buffer
            // too), and wait for input, a wake or the timer without a read.
            conn.shrink();
            app.shrink();
            out.shrink();
            reads = ReadBuffer::default();
            let readable = watch.wait(id, parked, (!eof).then_some(socket), timer)?;
            idle = !readable;
            continue;
        }
        // Wait for input, the next timer, room for output, or (reading)
        // the moment the connection counts as idle.
        let bound = if out.is_empty() {
            IDLE_AFTER
        } else {
            WRITE_SLICE
        };
        let wait = earliest(timer, Some(now + bound));
        match wait_for_input(socket, &mut reads, &mut read_timeout, false, wait, now)? {
            Got::Eof => {
                eof = true;
                conn.recv_eof(Instant::now());
            }
            Got::Bytes(data) => {
                let now = Instant::now();
                last_input = now;
                if let Err(e) = conn.recv(data, now) {
                    // GOAWAY is queued; it goes out next round.
                    eprintln!("connection {id}: {e}");
                }
            }
            Got::Failed(e) => {
                let now = Instant::now();
                conn.recv_eof(now);
                dispatch_server(conn, app, now);
                return Err(e);
            }
            Got::Nothing => {
                idle = out.is_empty() && Instant::now() >= last_input + IDLE_AFTER;
            }
        }
    }
}

/// Writes transmits (from `poll_transmit`) until there are none or the socket takes no more
/// for [`WRITE_SLICE`] (the rest stays in `out`). Whether there were any
/// and all went out (then the app may have more to send at once).
fn write_some(
    mut socket: &TcpStream,
    mut poll_transmit: impl FnMut() -> Option<Transmit>,
    out: &mut Outbox,
) -> io::Result<bool> {
    let mut any = false;
    loop {
        if out.is_empty() {
            match poll_transmit() {
                Some(t) => {
                    out.push(&t);
                    any = true;
                }
                None => return Ok(any),
            }
        }
        let written = socket.write_vectored(&out.slices());
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => out.advance(n),
            Err(e) if is_timeout(&e) => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

/// What one wait for input gave.
enum Got {
    Bytes(Bytes),
    Eof,
    /// The wait ran out (or the socket's end of stream came before).
    Nothing,
    Failed(io::Error),
}

/// Waits until `wait` for bytes on `socket` (after its end of stream,
/// `eof`, only sleeps until then).
fn wait_for_input(
    mut socket: &TcpStream,
    reads: &mut ReadBuffer,
    read_timeout: &mut ReadTimeout,
    eof: bool,
    wait: Option<Instant>,
    now: Instant,
) -> io::Result<Got> {
    if eof {
        let at = wait.unwrap_or(now + EOF_POLL);
        std::thread::sleep(at.saturating_duration_since(now));
        return Ok(Got::Nothing);
    }
    read_timeout.arm(socket, wait, now)?;
    Ok(match reads.read(Instant::now(), |room| socket.read(room)) {
        Input::Data(data) => Got::Bytes(data),
        Input::Eof => Got::Eof,
        Input::Nothing => Got::Nothing,
        Input::Failed(e) => Got::Failed(e),
    })
}

/// A read or write that gave up on its timeout (or was interrupted).
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Connects to `addr` and runs `app` on the connection in this thread until
/// the app is done (then a graceful GOAWAY) or the connection closes.
pub fn run_client<A: ClientApp>(
    addr: impl ToSocketAddrs,
    config: client::Config,
    app: &mut A,
) -> io::Result<()> {
    let socket = TcpStream::connect(addr)?;
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_SLICE))?;
    let mut conn = client::Connection::new(config, Instant::now());
    app.start(&mut conn, Instant::now());
    let (mut out, mut reads) = (Outbox::default(), ReadBuffer::default());
    let mut read_timeout = ReadTimeout::default();
    let (mut shut, mut eof) = (false, false);
    loop {
        let now = Instant::now();
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
        loop {
            dispatch_client(&mut conn, app, now);
            if app.is_done() && !shut {
                conn.shutdown(now);
                shut = true;
            }
            if !write_some(&socket, || conn.poll_transmit(), &mut out)? {
                break;
            }
        }
        if out.is_empty() && (conn.is_closed() || (shut && conn.active_calls() == 0)) {
            return Ok(());
        }
        let mut wait = earliest(conn.poll_timeout(), app.poll_timeout());
        if !out.is_empty() {
            wait = earliest(wait, Some(now + WRITE_SLICE));
        }
        match wait_for_input(&socket, &mut reads, &mut read_timeout, eof, wait, now)? {
            Got::Eof => {
                eof = true;
                conn.recv_eof(Instant::now());
            }
            Got::Bytes(data) => {
                let now = Instant::now();
                if let Err(e) = conn.recv(data, now) {
                    eprintln!("client connection: {e}");
                }
            }
            Got::Failed(e) => {
                let now = Instant::now();
                conn.recv_eof(now);
                dispatch_client(&mut conn, app, now);
                return Err(e);
            }
            Got::Nothing => {}
        }
    }
}
