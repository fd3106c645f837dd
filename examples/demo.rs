//! The demo: a gRPC server and a gRPC client of this crate talking over
//! loopback TCP, on blocking std sockets (a thread for the server's
//! connection, the client in the main thread).
//!
//! ```text
//! cargo run --example demo
//! ```
//!
//! It makes a unary call, a server-streaming call, a call the server
//! rejects, and a call whose deadline passes, and prints what happens.

use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grpc_sansio::grpc::{CallId, Code, Metadata, Status};
use grpc_sansio::{client, server};

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    println!("server listening on {addr}");
    std::thread::spawn(move || {
        if let Ok((socket, _)) = listener.accept() {
            if let Err(e) = serve(socket) {
                eprintln!("server connection: {e}");
            }
        }
    });

    let socket = TcpStream::connect(addr)?;
    let config = client::Config {
        authority: addr.to_string(),
        ..client::Config::default()
    };
    let mut conn = client::Connection::new(config, Instant::now());
    let mut io = Io::new(socket)?;

    // 1. unary
    let mut req = client::Request::new("/demo.Echo/Say");
    req.metadata.append("x-user", "demo").map_err(other)?;
    let call = conn.start_call(req, Instant::now()).map_err(other)?;
    conn.send_message(call, Bytes::from_static(b"hello"))
        .map_err(other)?;
    conn.half_close(call).map_err(other)?;
    let (msgs, status) = run_call(&mut conn, &mut io, call)?;
    println!(
        "unary   /demo.Echo/Say     -> {:?} {}",
        text(&msgs),
        show(&status)
    );

    // 2. server streaming
    let call = conn
        .start_call(client::Request::new("/demo.Echo/Count"), Instant::now())
        .map_err(other)?;
    conn.send_message(call, Bytes::from_static(&[5]))
        .map_err(other)?;
    conn.half_close(call).map_err(other)?;
    let (msgs, status) = run_call(&mut conn, &mut io, call)?;
    println!(
        "stream  /demo.Echo/Count   -> {:?} {}",
        text(&msgs),
        show(&status)
    );

    // 3. an unknown method: UNIMPLEMENTED (Trailers-Only)
    let call = conn
        .start_call(client::Request::new("/demo.Echo/Nope"), Instant::now())
        .map_err(other)?;
    conn.half_close(call).map_err(other)?;
    let (_, status) = run_call(&mut conn, &mut io, call)?;
    println!("unknown /demo.Echo/Nope    -> {}", show(&status));

    // 4. a deadline shorter than the server's work
    let mut req = client::Request::new("/demo.Echo/Slow");
    req.deadline = Some(Instant::now() + Duration::from_millis(100));
    let call = conn.start_call(req, Instant::now()).map_err(other)?;
    conn.half_close(call).map_err(other)?;
    let (_, status) = run_call(&mut conn, &mut io, call)?;
    println!("slow    /demo.Echo/Slow    -> {}", show(&status));

    conn.shutdown(Instant::now());
    io.flush_client(&mut conn)?;
    Ok(())
}

fn other<E: std::fmt::Debug>(e: E) -> io::Error {
    io::Error::other(format!("{e:?}"))
}

fn text(msgs: &[Bytes]) -> Vec<String> {
    msgs.iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

fn show(s: &Status) -> String {
    if s.message.is_empty() {
        format!("{}", s.code)
    } else {
        format!("{} ({})", s.code, s.message)
    }
}

/// Drives the client until `call` ends; returns its messages and status.
fn run_call(
    conn: &mut client::Connection,
    io: &mut Io,
    call: CallId,
) -> io::Result<(Vec<Bytes>, Status)> {
    let mut msgs = Vec::new();
    loop {
        while let Some(ev) = conn.poll_event() {
            match ev {
                client::Event::Message { call: c, data } if c == call => msgs.push(data),
                client::Event::Status {
                    call: c, status, ..
                } if c == call => return Ok((msgs, status)),
                client::Event::Closed { error } => return Err(other(error)),
                _ => {}
            }
        }
        io.flush_client(conn)?;
        let now = Instant::now();
        match io.read(
            conn.poll_timeout()
                .map(|t| t.saturating_duration_since(now)),
        )? {
            Some(data) if data.is_empty() => conn.recv_eof(Instant::now()),
            Some(data) => {
                let _ = conn.recv(data, Instant::now());
            }
            None => conn.handle_timeout(Instant::now()),
        }
    }
}

/// The server: one connection, calls answered by method name.
fn serve(socket: TcpStream) -> io::Result<()> {
    let mut conn = server::Connection::new(server::Config::default(), Instant::now());
    let mut io = Io::new(socket)?;
    let mut methods: std::collections::HashMap<CallId, String> = Default::default();
    loop {
        while let Some(ev) = conn.poll_event() {
            match ev {
                server::Event::Call { call, path, .. } => match path.as_str() {
                    "/demo.Echo/Say" | "/demo.Echo/Count" | "/demo.Echo/Slow" => {
                        methods.insert(call, path);
                    }
                    _ => {
                        let _ = conn.reject(
                            call,
                            Status::new(Code::Unimplemented, format!("unknown method {path}")),
                        );
                    }
                },
                server::Event::Message { call, data } => {
                    match methods.get(&call).map(String::as_str) {
                        Some("/demo.Echo/Say") => {
                            let mut reply = b"echo: ".to_vec();
                            reply.extend_from_slice(&data);
                            let _ = conn.send_message(call, Bytes::from(reply));
                        }
                        Some("/demo.Echo/Count") => {
                            let n = data.first().copied().unwrap_or(0);
                            for i in 1..=n {
                                let _ = conn.send_message(call, Bytes::from(i.to_string()));
                            }
                        }
                        _ => {}
                    }
                }
                // "Slow" never answers: its deadline ends it.
                server::Event::HalfClose { call }
                    if methods.get(&call).map(String::as_str) != Some("/demo.Echo/Slow") =>
                {
                    methods.remove(&call);
                    let _ = conn.finish(call, Status::ok(), &Metadata::new());
                }
                server::Event::Cancelled { call, status } => {
                    methods.remove(&call);
                    println!("server: call {} ended early: {}", call.0, show(&status));
                }
                server::Event::Closed { .. } => return Ok(()),
                _ => {}
            }
        }
        while let Some(t) = conn.poll_transmit() {
            io.write(&t)?;
        }
        if conn.is_closed() {
            return Ok(());
        }
        let now = Instant::now();
        match io.read(
            conn.poll_timeout()
                .map(|t| t.saturating_duration_since(now)),
        )? {
            Some(data) if data.is_empty() => conn.recv_eof(Instant::now()),
            Some(data) => {
                let _ = conn.recv(data, Instant::now());
            }
            None => conn.handle_timeout(Instant::now()),
        }
    }
}

/// A blocking socket with a read timeout and vectored writes.
struct Io {
    socket: TcpStream,
    buf: BytesMut,
}

impl Io {
    fn new(socket: TcpStream) -> io::Result<Io> {
        socket.set_nodelay(true)?;
        Ok(Io {
            socket,
            buf: BytesMut::new(),
        })
    }

    /// `Some(bytes)` (empty at end of stream) or `None` when `timeout` passed.
    fn read(&mut self, timeout: Option<Duration>) -> io::Result<Option<Bytes>> {
        self.socket
            .set_read_timeout(timeout.map(|t| t.max(Duration::from_millis(1))))?;
        self.buf.resize(64 << 10, 0);
        match self.socket.read(&mut self.buf) {
            Ok(n) => {
                self.buf.truncate(n);
                Ok(Some(self.buf.split().freeze()))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn write(&mut self, t: &grpc_sansio::h2::Transmit) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = t.chunks().iter().map(|c| IoSlice::new(c)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            let n = self.socket.write_vectored(slices)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
        Ok(())
    }

    fn flush_client(&mut self, conn: &mut client::Connection) -> io::Result<()> {
        while let Some(t) = conn.poll_transmit() {
            self.write(&t)?;
        }
        Ok(())
    }
}
