//! The std adapter's idle connections cost no CPU: alone in its test
//! binary, because it measures the CPU time of the whole process.

#[path = "../examples/adapters/mod.rs"]
mod adapters;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use adapters::{Runtime, Server};
use grpc_sansio::{client, server};

/// User plus system CPU time of this process so far, from `/proc/self/stat`
/// (in clock ticks of 10 ms, the usual `CLK_TCK` of 100).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // Fields after the command name (in parentheses, which may hold spaces).
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// An HTTP/2 connection that did its handshake and then does nothing.
fn idle_connection(addr: std::net::SocketAddr) -> TcpStream {
    let mut socket = TcpStream::connect(addr).unwrap();
    let mut conn = client::Connection::new(client::Config::default(), Instant::now());
    let flush = |conn: &mut client::Connection, socket: &mut TcpStream| {
        while let Some(t) = conn.poll_transmit() {
            for c in t.chunks() {
                socket.write_all(c).unwrap();
            }
        }
    };
    flush(&mut conn, &mut socket);
    socket
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut buf = [0; 4096];
    let n = socket.read(&mut buf).unwrap();
    assert!(n > 0, "the server sent its preface");
    conn.recv(bytes::Bytes::copy_from_slice(&buf[..n]), Instant::now())
        .unwrap();
    // The SETTINGS ACK.
    flush(&mut conn, &mut socket);
    socket
}

/// 500 idle connections to the std server: over 1.5 s the process spends
/// (almost) no CPU. With a wake poll of 100 ms per connection thread, this
/// was 5,000 wake-ups a second (about 50 ms of CPU in 1.5 s).
#[test]
fn idle_std_connections_cost_no_cpu() {
    const CONNS: usize = 500;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::default();
    let handle = Runtime::Std.serve_in_thread(
        listener,
        server.clone(),
        server::Config::default(),
        |_| adapters_idle_app::Nothing,
        false,
    );
    let sockets: Vec<TcpStream> = (0..CONNS).map(|_| idle_connection(addr)).collect();
    // Let every connection go idle.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.connections(),
        CONNS + 1,
        "the connections and serve's own waker"
    );
    let (cpu0, t0) = (cpu_time(), Instant::now());
    std::thread::sleep(Duration::from_millis(1500));
    let (cpu, took) = (cpu_time() - cpu0, t0.elapsed());
    eprintln!("{CONNS} idle std connections: {cpu:?} of CPU in {took:?}");
    assert!(
        cpu <= Duration::from_millis(10),
        "{CONNS} idle connections used {cpu:?} of CPU in {took:?}"
    );
    drop(sockets);
    server.shutdown();
    handle.join().unwrap().unwrap();
}

mod adapters_idle_app {
    use std::time::Instant;

    use grpc_sansio::server;

    /// An app that does nothing.
    pub struct Nothing;

    impl super::adapters::ServerApp for Nothing {
        fn on_event(&mut self, _: &mut server::Connection, _: server::Event, _: Instant) {}
    }
}
