//! A small HTTP/2 (h2c, prior knowledge) server on blocking std sockets, one
//! thread per connection: every request gets `200` with a short body.
//!
//! It exists to put the HTTP/2 core in front of real clients and conformance
//! suites (h2spec, nghttp, python-hyper's h2):
//!
//! ```text
//! cargo run --example h2_server -- --port 8080
//! ```

use std::io::{self, IoSlice, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use grpc_sansio::h2::{Config, Connection, Event, HeadersKind, Role};
use grpc_sansio::hpack::Field;

const BODY: &[u8] = b"hello from grpc-sansio\n";

fn main() -> io::Result<()> {
    let mut port = 8080u16;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).unwrap_or(port),
            _ => eprintln!("ignoring argument {a}"),
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    println!("listening on {}", listener.local_addr()?);
    for socket in listener.incoming() {
        let socket = socket?;
        std::thread::spawn(move || {
            if let Err(e) = serve(socket) {
                eprintln!("connection ended: {e}");
            }
        });
    }
    Ok(())
}

fn serve(mut socket: TcpStream) -> io::Result<()> {
    socket.set_nodelay(true)?;
    let mut conn = Connection::new(Role::Server, Config::default(), Instant::now());
    let mut buf = BytesMut::new();
    loop {
        flush(&mut conn, &mut socket)?;
        if conn.is_closed() {
            return Ok(());
        }
        let now = Instant::now();
        let wait = conn.poll_timeout().map(|t| {
            t.saturating_duration_since(now)
                .max(Duration::from_millis(1))
        });
        socket.set_read_timeout(wait)?;
        buf.resize(64 << 10, 0);
        match socket.read(&mut buf) {
            Ok(0) => {
                conn.recv_eof(Instant::now());
                return Ok(());
            }
            Ok(n) => {
                buf.truncate(n);
                // Errors end the connection; the GOAWAY is flushed above.
                let _ = conn.recv(buf.split().freeze(), Instant::now());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                conn.handle_timeout(Instant::now());
            }
            Err(e) => return Err(e),
        }
        while let Some(event) = conn.poll_event() {
            let (id, ended) = match event {
                Event::Headers {
                    stream_id,
                    kind: HeadersKind::Request | HeadersKind::Trailers,
                    end_stream,
                    ..
                } => (stream_id, end_stream),
                Event::Data {
                    stream_id,
                    end_stream,
                    ..
                } => (stream_id, end_stream),
                _ => continue,
            };
            if ended {
                let headers = [
                    Field::new(&b":status"[..], &b"200"[..]),
                    Field::new(&b"content-type"[..], &b"text/plain"[..]),
                ];
                if conn.send_headers(id, &headers, false).is_ok() {
                    let _ = conn.send_data(id, Bytes::from_static(BODY), true);
                }
            }
        }
    }
}

/// Writes everything the connection has to send, with vectored writes.
fn flush(conn: &mut Connection, socket: &mut TcpStream) -> io::Result<()> {
    while let Some(t) = conn.poll_transmit() {
        let chunks = t.chunks();
        let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|c| IoSlice::new(c)).collect();
        let mut slices = &mut slices[..];
        while !slices.is_empty() {
            let n = socket.write_vectored(slices)?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            IoSlice::advance_slices(&mut slices, n);
        }
    }
    Ok(())
}
