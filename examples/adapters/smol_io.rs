//! smol: a task per server connection (on smol's global executor), and a
//! client future.
//!
//! The loop is the tokio adapter's: a connection waits, in one race, for
//! bytes from the socket, room for the bytes it still has to write, a wake
//! from another connection ([`Server::wake_all`], through a channel of
//! capacity 1 that keeps one pending wake), or its next timer
//! (`Timer::at`). The socket is cloned (smol's `TcpStream` is a shared
//! handle) so reading and writing can wait at once. Signals come through
//! the `ctrlc` crate, as in the std adapter.

use std::io;
use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::{Duration, Instant};

use grpc_sansio::{client, server};
use smol::channel::{Receiver, Sender};
use smol::future::FutureExt;
use smol::io::AsyncWriteExt;
use smol::net::{AsyncToSocketAddrs, TcpListener, TcpStream};
use smol::{Async, Task, Timer};

use super::{ClientApp, ClientLoop, Outbox, ReadBuffer, Server, ServerApp, ServerLoop, Step};

/// How long a graceful shutdown waits for connections before giving up.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A [`Waker`] that leaves one message in a channel of capacity 1: a wake
/// that comes while the task is busy is seen at its next wait (and two
/// wakes before then are one).
struct ChannelWake(Sender<()>);

impl Wake for ChannelWake {
    fn wake(self: Arc<Self>) {
        let _ = self.0.try_send(());
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let _ = self.0.try_send(());
    }
}

fn channel_waker() -> (Receiver<()>, Waker) {
    let (tx, rx) = smol::channel::bounded(1);
    (rx, Waker::from(Arc::new(ChannelWake(tx))))
}

/// Makes Ctrl-C (and SIGTERM) start `server`'s graceful shutdown.
pub fn shutdown_on_signal(server: &Server) {
    super::std_io::shutdown_on_signal(server);
}

/// Accepts connections on `listener` until `server` shuts down, each in a
/// task of its own (on smol's global executor) with an app from
/// `make_app(connection id)`. Returns when, after the shutdown, every
/// connection closed (or the grace period ran out: the rest are dropped,
/// which cancels them).
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
    let (wake, waker) = channel_waker();
    server.register(u64::MAX, waker);
    let mut tasks: Vec<Task<()>> = Vec::new();
    while !server.is_shutting_down() {
        let accepted = async { Some(listener.accept().await) }
            // Server::shutdown (or another wake_all): check the flag.
            .or(async {
                let _ = wake.recv().await;
                None
            })
            .await;
        let (socket, peer) = match accepted {
            None => continue,
            Some(Ok(a)) => a,
            Some(Err(e)) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        tasks.retain(|t| !t.is_finished());
        let id = server.next_id();
        let (app, srv, config) = (make_app(id), server.clone(), config.clone());
        tasks.push(smol::spawn(async move {
            if let Err(e) = run_server_connection(socket, id, &srv, config, app).await {
                eprintln!("connection {id} ({peer}): {e}");
            }
        }));
    }
    server.unregister(u64::MAX);
    drop(listener);
    super::drain_connections(&server, Timer::after).await;
    // Whatever is left is cancelled with its task.
    drop(tasks);
    Ok(())
}

/// Waits for the next thing to do: input, room for output, a wake, or the
/// timer. A branch that loses the race has read or written nothing. The
/// read branch waits for readiness only and reads afterwards, so a waiting
/// connection holds no read buffer ([`ReadBuffer`]).
async fn next_step(
    socket: &TcpStream,
    buf: &mut ReadBuffer,
    eof: bool,
    out: &Outbox,
    wake: &Receiver<()>,
    timer: Option<Instant>,
) -> Step {
    let io: Arc<Async<std::net::TcpStream>> = socket.clone().into();
    let mut wr = socket.clone();
    let slices = out.slices();
    let read = async {
        if eof {
            return std::future::pending().await;
        }
        match io.readable().await {
            Ok(()) => None, // read below, once the race is won
            Err(e) => Some(Step::Read(Err(e))),
        }
    };
    let write = async {
        if out.is_empty() {
            return std::future::pending().await;
        }
        Some(Step::Wrote(wr.write_vectored(&slices).await))
    };
    let woken = async {
        match wake.recv().await {
            Ok(()) => Some(Step::Wake),
            // No sender left (a client's channel): never wakes.
            Err(_) => std::future::pending().await,
        }
    };
    let timer = async {
        match timer {
            Some(at) => Timer::at(at).await,
            None => Timer::never().await,
        };
        Some(Step::Timer)
    };
    if let Some(step) = read.or(write).or(woken).or(timer).await {
        return step;
    }
    // Readable: the socket is non-blocking, so this read never waits.
    let mut sock: &std::net::TcpStream = io.get_ref();
    buf.read(Instant::now(), |room| io::Read::read(&mut sock, room))
        .into_step()
}

/// Drives one server connection until it closes.
pub async fn run_server_connection<A: ServerApp>(
    socket: TcpStream,
    id: u64,
    server: &Server,
    config: server::SharedConfig,
    app: A,
) -> io::Result<()> {
    socket.set_nodelay(true)?;
    let (wake, waker) = channel_waker();
    server.register(id, waker);
    let result = async {
        let mut state = ServerLoop::new(id, config, app);
        while state.before_wait(server) {
            let timer = state.deadline();
            let step =
                next_step(&socket, &mut state.buf, state.eof, &state.out, &wake, timer).await;
            state.after_wait(step)?;
        }
        Ok(())
    }
    .await;
    server.unregister(id);
    let _ = socket.shutdown(std::net::Shutdown::Both);
    result
}

/// Connects to `addr` and runs `app` on the connection until the app is
/// done (then a graceful GOAWAY) or the connection closes.
pub async fn run_client<A: ClientApp>(
    addr: impl AsyncToSocketAddrs,
    config: client::Config,
    app: &mut A,
) -> io::Result<()> {
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    // Nothing wakes a client from outside: a channel whose sender is gone.
    let (_, wake) = smol::channel::bounded::<()>(1);
    let mut state = ClientLoop::new(config, app);
    while state.before_wait() {
        let timer = state.deadline();
        let step = next_step(&socket, &mut state.buf, state.eof, &state.out, &wake, timer).await;
        state.after_wait(step)?;
    }
    let _ = socket.shutdown(std::net::Shutdown::Both);
    Ok(())
}
