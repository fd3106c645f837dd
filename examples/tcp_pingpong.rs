//! The physical floors of the side-by-side measurements
//! (`scripts/side-by-side`), with plain loopback TCP and blocking std
//! sockets:
//!
//! ```text
//! tcp_pingpong server --addr 127.0.0.1:50099
//! tcp_pingpong pingpong --addr 127.0.0.1:50099 [--size 16] [--duration 5] [--warmup 1]
//! tcp_pingpong stream --addr 127.0.0.1:50099 [--size 65536] [--duration 5] [--warmup 1]
//! ```
//!
//! `server` accepts connections: the first byte of each says what it is
//! for: `p` echoes every `size` bytes back (ping-pong), `s` sends `size`-byte
//! writes until the client goes. `pingpong` measures round trips of `size`
//! bytes (one in flight, TCP_NODELAY): p50/p99 in µs; `stream` measures
//! one-way bandwidth of `size`-byte writes, reading in 64 KiB reads.
//! Prints one `key=value` line.

#[path = "adapters/mod.rs"]
#[allow(unused)]
mod adapters;
#[path = "bench/mod.rs"]
#[allow(unused)]
mod bench;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bench::{Args, Histogram, die};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    // `--key value` pairs after the mode.
    let args = Args::from_env_skipping(2);
    let addr: String = args.get("addr", "127.0.0.1:50099".to_string());
    let size: usize = args.get("size", if mode == "stream" { 65536 } else { 16 });
    let duration = Duration::from_secs_f64(args.get("duration", 5.0));
    let warmup = Duration::from_secs_f64(args.get("warmup", 1.0));
    match mode.as_str() {
        "server" => server(&addr),
        "pingpong" => pingpong(&addr, size, warmup, duration),
        "stream" => stream(&addr, size, warmup, duration),
        _ => die("usage: tcp_pingpong server|pingpong|stream [--addr A] [--size N] [--duration S]"),
    }
}

fn server(addr: &str) {
    let l = TcpListener::bind(addr).unwrap_or_else(|e| die(&format!("bind {addr}: {e}")));
    eprintln!(
        "tcp_pingpong server listening addr={addr} pid={}",
        std::process::id()
    );
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        std::thread::spawn(move || {
            let _ = s.set_nodelay(true);
            let mut head = [0u8; 9];
            if s.read_exact(&mut head).is_err() {
                return;
            }
            let size = u64::from_le_bytes(head[1..].try_into().unwrap()) as usize;
            let mut buf = vec![0xabu8; size];
            match head[0] {
                b'p' => {
                    while s.read_exact(&mut buf).is_ok() {
                        if s.write_all(&buf).is_err() {
                            return;
                        }
                    }
                }
                b's' => while s.write_all(&buf).is_ok() {},
                _ => {}
            }
        });
    }
}

fn connect(addr: &str, what: u8, size: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| die(&format!("connect {addr}: {e}")));
    s.set_nodelay(true).unwrap();
    let mut head = vec![what];
    head.extend_from_slice(&(size as u64).to_le_bytes());
    s.write_all(&head).unwrap();
    s
}

fn pingpong(addr: &str, size: usize, warmup: Duration, duration: Duration) {
    let mut s = connect(addr, b'p', size);
    let mut buf = vec![0x5au8; size];
    let mut hist = Histogram::default();
    let measure = Instant::now() + warmup;
    let stop = measure + duration;
    loop {
        let t = Instant::now();
        if t >= stop {
            break;
        }
        s.write_all(&buf).unwrap();
        s.read_exact(&mut buf).unwrap();
        if t >= measure {
            hist.record(t.elapsed().as_nanos() as u64);
        }
    }
    let us = |ns: u64| ns as f64 / 1000.0;
    println!(
        "mode=pingpong size={size} round_trips={} round_trips_per_s={:.0} p50_us={:.1} p90_us={:.1} p99_us={:.1} max_us={:.1}",
        hist.len(),
        hist.len() as f64 / duration.as_secs_f64(),
        us(hist.quantile(0.5)),
        us(hist.quantile(0.9)),
        us(hist.quantile(0.99)),
        us(hist.max())
    );
}

fn stream(addr: &str, size: usize, warmup: Duration, duration: Duration) {
    let mut s = connect(addr, b's', size);
    let mut buf = vec![0u8; 64 << 10];
    let measure = Instant::now() + warmup;
    let stop = measure + duration;
    let mut bytes = 0u64;
    loop {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| die(&format!("read: {e}")));
        if n == 0 {
            die("server closed");
        }
        let now = Instant::now();
        if now >= stop {
            break;
        }
        if now >= measure {
            bytes += n as u64;
        }
    }
    println!(
        "mode=stream size={size} mb_per_s={:.2}",
        bytes as f64 / duration.as_secs_f64() / 1e6
    );
}
