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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use grpc_sansio::{client, server};
use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::Notify;
use tokio::time::Sleep;

use super::{ClientApp, ClientLoop, Outbox, ReadBuffer, Server, ServerApp, ServerLoop, Step, lock};

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

/// A connection's wake from outside ([`Server::wake_all`]): a flag, and the
/// task's waker to call when it is raised. A wake that comes while the task
/// is busy is seen at its next wait, never lost. Polled in place (no
/// future to keep), which keeps an idle connection's task small.
#[derive(Default)]
struct WakeFlag {
    raised: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.raised.store(true, Ordering::SeqCst);
        if let Some(task) = lock(&self.task).as_ref() {
            task.wake_by_ref();
        }
    }
}

impl WakeFlag {
    /// Ready (and lowered) if raised; otherwise the task of `cx` is woken
    /// when it is.
    fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.raised.swap(false, Ordering::SeqCst) {
            return Poll::Ready(());
        }
        {
            let mut task = lock(&self.task);
            if !task.as_ref().is_some_and(|t| t.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        // A wake between the swap and the registration found no waker (or
        // the old one): look again.
        if self.raised.swap(false, Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
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
/// ran out: the rest end with the runtime). The tasks are not kept in a
/// set: the server's registry of wakers already counts them, and a set
/// would cost every connection another allocation.
pub async fn serve<A, F>(
    listener: TcpListener,
    server: Server,
    config: impl Into<server::SharedConfig>,
    make_app: F,
) -> io::Result<()>
where
    A: ServerApp,
    F: Fn(u64) -> A,
{
    // Checked once; each connection gets a pointer to it.
    let config: server::SharedConfig = config.into();
    let (wake, waker) = notify_waker();
    server.register(u64::MAX, waker);
    while !server.is_shutting_down() {
        tokio::select! {
            accepted = listener.accept() => {
                let (socket, _peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        eprintln!("accept: {e}");
                        continue;
                    }
                };
                let id = server.next_id();
                let app = make_app(id);
                tokio::spawn(run_server_connection(socket, id, server.clone(), config.clone(), app));
            }
            // Server::shutdown (or another wake_all): check the flag.
            _ = wake.notified() => {}
        }
    }
    server.unregister(u64::MAX);
    drop(listener);
    super::drain_connections(&server, tokio::time::sleep).await;
    Ok(())
}

/// A connection's timer: one `Sleep`, moved only when the deadline moves
/// (registering a timer on every wait would cost more than the wait),
/// made by the first deadline and let go by [`shrink`](Timer::shrink).
#[derive(Default)]
struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    at: Option<Instant>,
}

impl Timer {
    fn set(&mut self, at: Option<Instant>) {
        if let Some(t) = at
            && self.at != at
        {
            match &mut self.sleep {
                Some(sleep) => sleep.as_mut().reset(t.into()),
                None => self.sleep = Some(Box::pin(tokio::time::sleep_until(t.into()))),
            }
        }
        self.at = at;
    }

    /// Ready when the deadline set is due (never without one).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match (&mut self.sleep, self.at) {
            (Some(sleep), Some(_)) => sleep.as_mut().poll(cx),
            _ => Poll::Pending,
        }
    }

    /// Lets go of the `Sleep` (the next deadline set makes a new one).
    fn shrink(&mut self) {
        self.sleep = None;
        self.at = None;
    }
}

/// Waits for the next thing to do: input, room for output, a wake, or the
/// timer. Nothing is read or written unless its branch is the one taken.
/// The read branch waits for readiness only and reads afterwards, so a
/// waiting connection holds no read buffer ([`ReadBuffer`]). The sources
/// are polled in place, with no future kept for any of them (the task of
/// an idle connection stays small); `write_first` takes turns with the
/// caller so that neither direction can starve the other.
async fn next_step(
    socket: &mut TcpStream,
    buf: &mut ReadBuffer,
    eof: bool,
    out: &Outbox,
    wake: &WakeFlag,
    timer: &mut Timer,
    write_first: bool,
) -> Step {
    let readable = std::future::poll_fn(|cx| {
        if write_first && let Poll::Ready(step) = poll_write(socket, out, cx) {
            return Poll::Ready(Err(step));
        }
        if !eof && let Poll::Ready(r) = socket.poll_read_ready(cx) {
            return Poll::Ready(r.map_err(|e| Step::Read(Err(e))));
        }
        if !write_first && let Poll::Ready(step) = poll_write(socket, out, cx) {
            return Poll::Ready(Err(step));
        }
        if wake.poll(cx).is_ready() {
            return Poll::Ready(Err(Step::Wake));
        }
        if timer.poll(cx).is_ready() {
            return Poll::Ready(Err(Step::Timer));
        }
        Poll::Pending
    })
    .await;
    if let Err(step) = readable {
        return step;
    }
    let mut drained = false;
    let read = buf.read_buf(Instant::now(), |room| {
        let space = room.capacity() - room.len();
        let read = socket.try_read_buf(room);
        drained = read.as_ref().is_ok_and(|&n| n > 0 && n < space);
        read
    });
    if drained {
        // The socket is drained (it gave less than asked): say so to tokio
        // without another read that would only find nothing. Bytes that
        // come later raise readiness afresh.
        let _ = socket.try_io(Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }
    read.into_step()
}

/// Writes what `out` holds, if the socket has room.
fn poll_write(socket: &mut TcpStream, out: &Outbox, cx: &mut Context<'_>) -> Poll<Step> {
    if out.is_empty() {
        return Poll::Pending;
    }
    let slices = out.slices();
    Pin::new(socket)
        .poll_write_vectored(cx, &slices)
        .map(Step::Wrote)
}

/// Drives one server connection until it closes; a failure is logged.
///
/// The core's connection is made here, before the future: the future then
/// holds it once (an `async fn` would keep `config` in its state as well,
/// for the connection's whole life), which keeps the task of an idle
/// connection small.
pub fn run_server_connection<A: ServerApp>(
    mut socket: TcpStream,
    id: u64,
    server: Server,
    config: server::SharedConfig,
    app: A,
) -> impl Future<Output = io::Result<()>> + Send + 'static {
    let mut state = ServerLoop::new(id, config, app);
    async move {
        socket.set_nodelay(true)?;
        let wake = Arc::new(WakeFlag::default());
        server.register(id, Waker::from(wake.clone()));
        let result = drive_server(&mut socket, &server, &mut state, &wake).await;
        server.unregister(id);
        if let Err(e) = &result {
            let peer = socket.peer_addr().map(|a| a.to_string());
            eprintln!("connection {id} ({}): {e}", peer.unwrap_or_default());
        }
        let _ = socket.shutdown().await;
        result
    }
}

async fn drive_server<A: ServerApp>(
    socket: &mut TcpStream,
    server: &Server,
    state: &mut ServerLoop<A>,
    wake: &WakeFlag,
) -> io::Result<()> {
    let mut timer = Timer::default();
    let mut write_first = false;
    while state.before_wait(server) {
        timer.set(state.deadline());
        write_first = !write_first;
        let step = next_step(
            socket,
            &mut state.buf,
            state.eof,
            &state.out,
            wake,
            &mut timer,
            write_first,
        )
        .await;
        if state.after_wait(step)? {
            timer.shrink();
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
    let mut state = ClientLoop::new(config, app);
    // Nothing wakes a client from outside; the flag only fills the slot.
    let wake = WakeFlag::default();
    let mut timer = Timer::default();
    let mut write_first = false;
    while state.before_wait() {
        timer.set(state.deadline());
        write_first = !write_first;
        let step = next_step(
            &mut socket,
            &mut state.buf,
            state.eof,
            &state.out,
            &wake,
            &mut timer,
            write_first,
        )
        .await;
        if state.after_wait(step)? {
            timer.shrink();
        }
    }
    let _ = socket.shutdown().await;
    Ok(())
}
