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
//! - a wake from another connection ([`Server::wake_all`]): a flag, seen
//!   within [`WAKE_POLL`] (a wake is for shutdown or a health change, where
//!   a tenth of a second is prompt);
//! - output the peer does not take: writes give up after [`WRITE_SLICE`]
//!   and the thread reads meanwhile, in slices as short, so two blocking
//!   peers that both write can never wait for each other for ever.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::h2::Transmit;
use grpc_sansio::{client, server};

use super::{
    ClientApp, Input, Outbox, ReadBuffer, Server, ServerApp, dispatch_client, dispatch_server,
    earliest, lock,
};

/// How long a graceful shutdown waits for connections before giving up.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How soon a waiting connection sees a wake ([`Server::wake_all`]).
pub const WAKE_POLL: Duration = Duration::from_millis(100);

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

/// A [`Waker`] that raises a flag, which the connection's thread looks at
/// after every read (and at least every [`WAKE_POLL`]).
#[derive(Default)]
struct FlagWake(AtomicBool);

impl Wake for FlagWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
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
/// thread of its own with an app from `make_app(connection id)`. Returns
/// when, after the shutdown, every connection closed (or the grace period
/// ran out).
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
            let id = srv.next_id();
            let app = make_app(id);
            let (srv, config) = (srv.clone(), config.clone());
            std::thread::spawn(move || {
                let peer = socket.peer_addr().ok();
                if let Err(e) = run_server_connection(socket, id, &srv, config, app) {
                    eprintln!("connection {id} ({peer:?}): {e}");
                }
            });
        }
    });
    // The accept thread blocks in accept(); this thread waits for the end.
    let (tx, rx) = mpsc::channel::<()>();
    server.register(u64::MAX, Waker::from(Arc::new(ChannelWake(Mutex::new(tx)))));
    while !server.is_shutting_down() {
        let _ = rx.recv();
    }
    server.unregister(u64::MAX);
    let give_up = Instant::now() + SHUTDOWN_GRACE;
    while server.connections() > 0 && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Drives one server connection until it closes.
pub fn run_server_connection<A: ServerApp>(
    socket: TcpStream,
    id: u64,
    server: &Server,
    config: server::SharedConfig,
    mut app: A,
) -> io::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_write_timeout(Some(WRITE_SLICE))?;
    let woken = Arc::new(FlagWake::default());
    server.register(id, Waker::from(woken.clone()));
    let mut conn = server::Connection::new(config, Instant::now());
    let result = drive_server(&socket, id, server, &mut conn, &mut app, &woken.0);
    server.unregister(id);
    let _ = socket.shutdown(Shutdown::Both);
    result
}

fn drive_server<A: ServerApp>(
    socket: &TcpStream,
    id: u64,
    server: &Server,
    conn: &mut server::Connection,
    app: &mut A,
    woken: &AtomicBool,
) -> io::Result<()> {
    let (mut out, mut reads) = (Outbox::default(), ReadBuffer::default());
    let mut read_timeout = ReadTimeout::default();
    let (mut shut, mut eof, mut quiet) = (false, false, false);
    let mut last_input = Instant::now();
    loop {
        let now = Instant::now();
        if server.is_shutting_down() && !shut {
            conn.shutdown(now);
            shut = true;
        }
        if woken.swap(false, Ordering::SeqCst) {
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
        // Wait for input, the next timer, a wake, or room for output.
        let bound = if out.is_empty() {
            WAKE_POLL
        } else {
            WRITE_SLICE
        };
        let wait = earliest(
            earliest(conn.poll_timeout(), app.poll_timeout()),
            Some(now + bound),
        );
        match wait_for_input(socket, &mut reads, &mut read_timeout, eof, wait, now)? {
            Got::Eof => {
                eof = true;
                conn.recv_eof(Instant::now());
            }
            Got::Bytes(data) => {
                let now = Instant::now();
                last_input = now;
                quiet = false;
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
                let now = Instant::now();
                if !quiet && out.is_empty() && now >= last_input + ReadBuffer::QUIET {
                    // Quiet: give back what is kept for reuse.
                    quiet = true;
                    conn.shrink();
                    app.shrink();
                    out.shrink();
                }
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
        let at = wait.unwrap_or(now + WAKE_POLL);
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
