//! tokio: a task per server connection, and a client future.
//!
//! A connection task waits, in one `select!`, for whatever can happen to
//! it: bytes from the socket, room in the socket for the bytes it still has
//! to write, a wake from another connection ([`Server::wake_all`], through a
//! `Notify`), or its next timer (`sleep_until`). Reading goes on while a
//! write waits, so two peers that both write never block each other; the
//! write side holds one `Transmit` at a time ([`Outbox`]), so the core's
//! bound on queued output stays the bound.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_sansio::h2::Transmit;
use grpc_sansio::{client, server};
use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Sleep;

use super::{
    ClientApp, Outbox, ReadBuffer, Server, ServerApp, dispatch_client, dispatch_server, earliest,
};

/// How long a graceful shutdown waits for connections before giving up.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A [`Waker`] that stores a permit in a `Notify`: a wake that comes while
/// the task is busy is seen at its next wait, never lost.
struct NotifyWake(Arc<Notify>);

impl Wake for NotifyWake {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify_one();
    }
}

fn notify_waker() -> (Arc<Notify>, Waker) {
    let notify = Arc::new(Notify::new());
    (notify.clone(), Waker::from(Arc::new(NotifyWake(notify))))
}

/// Makes Ctrl-C (and SIGTERM) start `server`'s graceful shutdown. Call it
/// inside the runtime; the handlers are in place when it returns.
pub fn shutdown_on_signal(server: &Server) {
    let server = server.clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (int, term) = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => (i, t),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("cannot catch signals: {e}");
                return;
            }
        };
        tokio::spawn(async move {
            let (mut int, mut term) = (int, term);
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            eprintln!("signal: shutting down");
            server.shutdown();
        });
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("cannot catch signals: {e}");
            return;
        }
        eprintln!("signal: shutting down");
        server.shutdown();
    });
}

/// Accepts connections on `listener` until `server` shuts down, each in a
/// task of its own with an app from `make_app(connection id)`. Returns
/// when, after the shutdown, every connection closed (or the grace period
/// ran out: the rest are aborted).
pub async fn serve<A, F>(
    listener: TcpListener,
    server: Server,
    config: server::Config,
    make_app: F,
) -> io::Result<()>
where
    A: ServerApp,
    F: Fn(u64) -> A,
{
    let (wake, waker) = notify_waker();
    server.register(u64::MAX, waker);
    let mut tasks = JoinSet::new();
    while !server.is_shutting_down() {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        continue;
                    }
                };
                let id = server.next_id();
                let (app, srv, config) = (make_app(id), server.clone(), config.clone());
                tasks.spawn(async move {
                    if let Err(e) = run_server_connection(socket, id, &srv, config, app).await {
                        eprintln!("connection {id} ({peer}): {e}");
                    }
                });
            }
            // Server::shutdown (or another wake_all): check the flag.
            _ = wake.notified() => {}
            // Reap finished connections so the set does not grow.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    server.unregister(u64::MAX);
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "shutdown: {} connection(s) still open, aborted",
            tasks.len()
        );
        tasks.abort_all();
    }
    Ok(())
}

/// What ended one wait of a connection loop.
enum Step {
    /// Bytes read (empty: the peer closed its side).
    Read(io::Result<Bytes>),
    Wrote(io::Result<usize>),
    Wake,
    Timer,
    /// Readiness without bytes after all.
    Spurious,
}

/// A connection's timer: one `Sleep`, moved only when the deadline moves
/// (registering a timer on every wait would cost more than the wait).
struct Timer {
    sleep: Pin<Box<Sleep>>,
    at: Option<Instant>,
}

impl Timer {
    fn new() -> Timer {
        Timer {
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            at: None,
        }
    }

    fn set(&mut self, at: Option<Instant>) {
        if let Some(t) = at
            && self.at != at
        {
            self.sleep.as_mut().reset(t.into());
        }
        self.at = at;
    }
}

/// Waits for the next thing to do: input, room for output, a wake, or the
/// timer. Every branch is cancel-safe: a branch that loses the race has
/// read or written nothing. The read branch waits for readiness only and
/// reads afterwards, so a waiting connection holds no read buffer
/// ([`ReadBuffer`]).
async fn next_step(
    socket: &mut TcpStream,
    buf: &mut ReadBuffer,
    eof: bool,
    out: &Outbox,
    wake: &Notify,
    timer: &mut Timer,
) -> Step {
    let (rd, mut wr) = socket.split();
    let slices = out.slices();
    let armed = timer.at.is_some();
    let sleep = timer.sleep.as_mut();
    let readable = tokio::select! {
        r = rd.readable(), if !eof => r,
        r = wr.write_vectored(&slices), if !out.is_empty() => return Step::Wrote(r),
        _ = wake.notified() => return Step::Wake,
        _ = sleep, if armed => return Step::Timer,
    };
    if let Err(e) = readable {
        return Step::Read(Err(e));
    }
    let room = buf.room();
    let space = room.capacity() - room.len();
    let read = socket.try_read_buf(room);
    if read.as_ref().is_ok_and(|&n| n > 0 && n < space) {
        // The socket is drained (it gave less than asked): say so to tokio
        // without another read that would only find nothing. Bytes that
        // come later raise readiness afresh.
        let _ = socket.try_io(Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }
    buf.took(read, Instant::now())
        .map_or(Step::Spurious, Step::Read)
}

/// Drives one server connection until it closes.
pub async fn run_server_connection<A: ServerApp>(
    mut socket: TcpStream,
    id: u64,
    server: &Server,
    config: server::Config,
    mut app: A,
) -> io::Result<()> {
    socket.set_nodelay(true)?;
    let (wake, waker) = notify_waker();
    server.register(id, waker);
    let result = async {
        let mut conn = server::Connection::new(config, Instant::now());
        let (mut out, mut buf) = (Outbox::default(), ReadBuffer::default());
        let mut timer = Timer::new();
        let (mut eof, mut shut) = (false, false);
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
            if out.is_empty()
                && let Some(t) = conn.poll_transmit()
            {
                out.push(&t);
            }
            if out.is_empty() && conn.is_closed() {
                return Ok(());
            }
            timer.set(earliest(
                earliest(conn.poll_timeout(), app.poll_timeout()),
                buf.release_at(),
            ));
            match next_step(&mut socket, &mut buf, eof, &out, &wake, &mut timer).await {
                Step::Read(Ok(data)) if data.is_empty() => {
                    eof = true;
                    conn.recv_eof(Instant::now());
                }
                Step::Read(Ok(data)) => {
                    if let Err(e) = conn.recv(data, Instant::now()) {
                        // GOAWAY is queued; it goes out next round.
                        eprintln!("connection {id}: {e}");
                    }
                }
                Step::Read(Err(e)) | Step::Wrote(Err(e)) => {
                    conn.recv_eof(Instant::now());
                    dispatch_server(&mut conn, &mut app, Instant::now());
                    return Err(e);
                }
                Step::Wrote(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
                Step::Wrote(Ok(n)) => out.advance(n),
                Step::Wake => app.on_wake(&mut conn, Instant::now()),
                Step::Timer => {
                    if buf.on_timer(Instant::now()) {
                        conn.shrink();
                    }
                }
                Step::Spurious => {}
            }
        }
    }
    .await;
    server.unregister(id);
    let _ = socket.shutdown().await;
    result
}

/// Writes every chunk of `t`, vectored (for adapters that write in turn
/// with reading; the connection loops above interleave them instead).
pub async fn write_all_vectored<W: AsyncWrite + Unpin>(w: &mut W, t: &Transmit) -> io::Result<()> {
    let mut slices: smallvec::SmallVec<[io::IoSlice<'_>; 8]> =
        t.chunks().iter().map(|c| io::IoSlice::new(c)).collect();
    let mut slices = &mut slices[..];
    while !slices.is_empty() {
        match w.write_vectored(slices).await {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Connects to `addr` and runs `app` on the connection until the app is
/// done (then a graceful GOAWAY) or the connection closes.
pub async fn run_client<A: ClientApp>(
    addr: impl ToSocketAddrs,
    config: client::Config,
    app: &mut A,
) -> io::Result<()> {
    let mut socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let mut conn = client::Connection::new(config, Instant::now());
    app.start(&mut conn, Instant::now());
    // Nothing wakes a client from outside; the Notify only fills the slot.
    let wake = Notify::new();
    let (mut out, mut buf) = (Outbox::default(), ReadBuffer::default());
    let mut timer = Timer::new();
    let (mut eof, mut shut) = (false, false);
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
        if out.is_empty()
            && let Some(t) = conn.poll_transmit()
        {
            out.push(&t);
        }
        if out.is_empty() && (conn.is_closed() || (shut && conn.active_calls() == 0)) {
            let _ = socket.shutdown().await;
            return Ok(());
        }
        timer.set(earliest(
            earliest(conn.poll_timeout(), app.poll_timeout()),
            buf.release_at(),
        ));
        match next_step(&mut socket, &mut buf, eof, &out, &wake, &mut timer).await {
            Step::Read(Ok(data)) if data.is_empty() => {
                eof = true;
                conn.recv_eof(Instant::now());
            }
            Step::Read(Ok(data)) => {
                if let Err(e) = conn.recv(data, Instant::now()) {
                    eprintln!("client connection: {e}");
                }
            }
            Step::Read(Err(e)) | Step::Wrote(Err(e)) => {
                conn.recv_eof(Instant::now());
                dispatch_client(&mut conn, app, Instant::now());
                return Err(e);
            }
            Step::Wrote(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Step::Wrote(Ok(n)) => out.advance(n),
            Step::Timer => {
                if buf.on_timer(Instant::now()) {
                    conn.shrink();
                }
            }
            Step::Wake | Step::Spurious => {}
        }
    }
}
