//! Blocking std sockets: a thread per server connection (plus one that only
//! reads), and a blocking client in the caller's thread.
//!
//! A connection thread waits on one channel for what can happen to it:
//! bytes or end of stream from its reader thread, a wake from another
//! connection ([`Server::wake_all`]), or its next timer (`recv_timeout`).
//! Writes go out with `write_vectored`, straight from the core's chunks.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grpc_sansio::h2::Transmit;
use grpc_sansio::{client, server};

use super::{
    ClientApp, ReadBuffer, Server, ServerApp, dispatch_client, dispatch_server, earliest, lock,
};

/// How long a graceful shutdown waits for connections before giving up.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Bytes asked of the socket per read.
const READ_SIZE: usize = 64 << 10;

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

enum Input {
    Data(Bytes),
    Eof,
    Failed(io::Error),
    Wake,
}

struct ChannelWake(Mutex<Sender<Input>>);

impl Wake for ChannelWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let _ = lock(&self.0).send(Input::Wake);
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
    config: server::Config,
    make_app: F,
) -> io::Result<()>
where
    A: ServerApp,
    F: Fn(u64) -> A + Send + 'static,
{
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
    let (tx, rx) = mpsc::channel::<Input>();
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
    config: server::Config,
    mut app: A,
) -> io::Result<()> {
    socket.set_nodelay(true)?;
    let (tx, rx) = mpsc::channel();
    let reader = socket.try_clone()?;
    let reader_tx = tx.clone();
    std::thread::spawn(move || read_loop(reader, reader_tx));
    server.register(id, Waker::from(Arc::new(ChannelWake(Mutex::new(tx)))));
    let result = (|| {
        let mut writer = &socket;
        let mut conn = server::Connection::new(config, Instant::now());
        let mut shut = false;
        loop {
            let now = Instant::now();
            if server.is_shutting_down() && !shut {
                conn.shutdown(now);
                shut = true;
            }
            if conn.poll_timeout().is_some_and(|t| t <= now) {
                conn.handle_timeout(now);
            }
            dispatch_server(&mut conn, &mut app, now);
            while let Some(t) = conn.poll_transmit() {
                write_all_vectored(&mut writer, &t)?;
            }
            if conn.is_closed() {
                return Ok(());
            }
            let input = match earliest(conn.poll_timeout(), app.poll_timeout()) {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(now)) {
                    Ok(input) => Some(input),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => Some(Input::Eof),
                },
                None => Some(rx.recv().unwrap_or(Input::Eof)),
            };
            let now = Instant::now();
            match input {
                Some(Input::Data(data)) => {
                    if let Err(e) = conn.recv(data, now) {
                        // GOAWAY is queued; it goes out next round.
                        eprintln!("connection {id}: {e}");
                    }
                }
                Some(Input::Eof) => conn.recv_eof(now),
                Some(Input::Failed(e)) => {
                    conn.recv_eof(now);
                    return Err(e);
                }
                Some(Input::Wake) => app.on_wake(&mut conn, now),
                None => {}
            }
        }
    })();
    server.unregister(id);
    let _ = socket.shutdown(Shutdown::Both);
    result
}

fn read_loop(mut socket: TcpStream, tx: Sender<Input>) {
    let mut buf = BytesMut::new();
    loop {
        buf.resize(READ_SIZE, 0);
        let input = match socket.read(&mut buf) {
            Ok(0) => Input::Eof,
            Ok(n) => {
                buf.truncate(n);
                Input::Data(buf.split().freeze())
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Input::Failed(e),
        };
        let last = !matches!(input, Input::Data(_));
        if tx.send(input).is_err() || last {
            return;
        }
    }
}

/// Writes every chunk of `t`, vectored.
pub fn write_all_vectored<W: Write>(w: &mut W, t: &Transmit) -> io::Result<()> {
    let mut slices: smallvec::SmallVec<[IoSlice<'_>; 8]> =
        t.chunks().iter().map(|c| IoSlice::new(c)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match w.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Connects to `addr` and runs `app` on the connection in this thread until
/// the app is done (then a graceful GOAWAY) or the connection closes.
pub fn run_client<A: ClientApp>(
    addr: impl ToSocketAddrs,
    config: client::Config,
    app: &mut A,
) -> io::Result<()> {
    let mut socket = TcpStream::connect(addr)?;
    socket.set_nodelay(true)?;
    let mut conn = client::Connection::new(config, Instant::now());
    app.start(&mut conn, Instant::now());
    let mut reads = ReadBuffer::default();
    let mut read_timeout = ReadTimeout::default();
    let mut shut = false;
    loop {
        let now = Instant::now();
        if conn.poll_timeout().is_some_and(|t| t <= now) {
            conn.handle_timeout(now);
        }
        dispatch_client(&mut conn, app, now);
        if app.is_done() && !shut {
            conn.shutdown(now);
            shut = true;
        }
        while let Some(t) = conn.poll_transmit() {
            write_all_vectored(&mut socket, &t)?;
        }
        if conn.is_closed() || (shut && conn.active_calls() == 0) {
            return Ok(());
        }
        read_timeout.arm(
            &socket,
            earliest(conn.poll_timeout(), app.poll_timeout()),
            now,
        )?;
        let read = socket.read(reads.room_zeroed());
        match read {
            Ok(0) => conn.recv_eof(Instant::now()),
            Ok(n) => {
                let now = Instant::now();
                if let Err(e) = conn.recv(reads.filled(n, now), now) {
                    eprintln!("client connection: {e}");
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => {
                conn.recv_eof(Instant::now());
                dispatch_client(&mut conn, app, Instant::now());
                return Err(e);
            }
        }
    }
}
