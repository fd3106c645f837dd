//! Connection configuration: the SETTINGS we advertise, flow-control
//! policy, timers and the limits that bound what a peer can make us hold.

use std::sync::Arc;
use std::time::Duration;

/// How received DATA gives flow-control credit back to the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReleaseMode {
    /// Credit returns as soon as a DATA event is handed to the application
    /// (by [`Connection::poll_event`](super::Connection::poll_event)).
    OnDelivery,
    /// Credit returns only when the application calls
    /// [`Connection::release_capacity`](super::Connection::release_capacity):
    /// a slow consumer slows the peer instead of growing a buffer.
    Manual,
}

/// When released credit is announced with WINDOW_UPDATE (RFC 9113 §6.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowUpdatePolicy {
    /// Announce every release at once (many small frames). A peer sending
    /// 1-byte DATA frames then gets two WINDOW_UPDATEs (stream and
    /// connection, 26 bytes) per 10-byte frame: 2.6 bytes back per byte
    /// received, bounded by `max_pending_control_bytes` if it does not
    /// read them. `Fraction` sends one per fraction of the window instead.
    Immediate,
    /// Announce once the unannounced credit reaches this fraction of the
    /// window, as `1/n` (2 = half the window). Fewer frames, same throughput
    /// as long as the window covers a round trip.
    Fraction(u32),
}

/// A budget of `count` events per `interval`; exceeding it is abuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed per interval.
    pub count: u32,
    /// Length of the interval.
    pub interval: Duration,
}

impl Rate {
    /// `count` per `interval`.
    pub const fn new(count: u32, interval: Duration) -> Rate {
        Rate { count, interval }
    }
}

/// Configuration of an HTTP/2 connection. Every field has a documented
/// default; see [`Config::default`].
#[derive(Clone, Debug)]
pub struct Config {
    // ---- SETTINGS we advertise (RFC 9113 §6.5.2) ----
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table the peer may use
    /// when encoding for us. Default 4096 bytes.
    pub header_table_size: u32,
    /// SETTINGS_MAX_CONCURRENT_STREAMS: streams the peer may have open
    /// toward us. Default 100. Streams past it are refused (REFUSED_STREAM).
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window.
    /// Default 65,535 bytes... raised to `stream_window` by WINDOW_UPDATE.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: largest frame payload we accept.
    /// Default 16,384 bytes (range 16,384 ..= 16,777,215).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: largest decoded header list we accept
    /// (name + value + 32 per field). Default 16 KiB. Enforced while decoding.
    pub max_header_list_size: u32,

    // ---- flow control (RFC 9113 §5.2, §6.9) ----
    /// Target receive window per stream, in bytes: after the SETTINGS
    /// initial window, WINDOW_UPDATEs keep the peer's credit up to this.
    /// Default 1 MiB. Bounds what one stream can make the application hold.
    pub stream_window: u32,
    /// Target receive window for the whole connection. Default 2 MiB.
    pub connection_window: u32,
    /// When received data is credited back. Default [`ReleaseMode::OnDelivery`].
    pub release_mode: ReleaseMode,
    /// When credit is announced. Default `Fraction(2)` (half the window).
    pub window_update_policy: WindowUpdatePolicy,

    // ---- timers ----
    /// How long the peer has to acknowledge our SETTINGS before
    /// GOAWAY(SETTINGS_TIMEOUT) (RFC 9113 §6.5.3). Default 10 s.
    pub settings_timeout: Duration,
    /// How long the peer has to send its preface and SETTINGS (§3.4).
    /// Default 10 s.
    pub handshake_timeout: Duration,
    /// Graceful shutdown (§6.8): how long to wait for the PING that follows
    /// the first GOAWAY before sending the final one. Default 5 s.
    pub shutdown_ping_timeout: Duration,
    /// How long frames on a stream we reset are silently ignored (§5.1,
    /// "closed"). Default 30 s.
    pub reset_stream_duration: Duration,

    // ---- limits against abusive peers ----
    /// Frames per header block (HEADERS + CONTINUATIONs). Default 32.
    /// Past it: GOAWAY(ENHANCE_YOUR_CALM) (CONTINUATION flood).
    pub max_continuation_frames: u32,
    /// Compressed bytes per header block. Default 64 KiB. Past it:
    /// GOAWAY(ENHANCE_YOUR_CALM): the block cannot be skipped without losing
    /// the HPACK context.
    pub max_header_block_size: u32,
    /// Recently reset or closed streams remembered, to tell late frames from
    /// protocol errors (§5.1). Default 1024; the oldest is forgotten first.
    pub max_closed_streams_remembered: usize,
    /// Answers the peer makes us give to its own errors, in requests per
    /// interval. Default 200 per 10 s; past it GOAWAY(ENHANCE_YOUR_CALM)
    /// and [`ConnectionError::Protocol`](crate::ConnectionError::Protocol).
    ///
    /// One budget for every such answer, because each costs us a decoded
    /// header block and a frame or two for a few bytes of the peer's:
    /// streams we reset for its errors (RST_STREAM with PROTOCOL_ERROR,
    /// STREAM_CLOSED, FLOW_CONTROL_ERROR, REFUSED_STREAM past
    /// SETTINGS_MAX_CONCURRENT_STREAMS or after GOAWAY: MadeYouReset,
    /// CVE-2025-8671), requests refused with HTTP 431 for an oversized
    /// header list (RFC 9113 §10.5.1), and the gRPC server's refusals of
    /// requests it cannot parse (HTTP 405 and 415, an unsupported
    /// `grpc-encoding`, a malformed `:path`, `grpc-timeout` or metadata, a
    /// message over the size limit or that does not decompress). Answers
    /// the application chooses (a status for an unknown method, say) are
    /// not counted. A well-behaved client stays far below it; one that
    /// repeats a broken request is cut off after the budget instead of
    /// being answered forever.
    pub error_answer_rate: Rate,
    /// Streams the peer resets (Rapid Reset, CVE-2023-44487).
    /// Default 200 per 10 s; past it GOAWAY(ENHANCE_YOUR_CALM).
    pub remote_reset_rate: Rate,
    /// SETTINGS frames received. Default 100 per 10 s.
    pub settings_rate: Rate,
    /// PING frames received with no HEADERS or DATA sent by us since the
    /// previous one (a PING that follows our data is a bandwidth probe, as
    /// grpc-go and grpc C-core send, and is free). Default 100 per 10 s.
    pub ping_rate: Rate,
    /// Frames that carry nothing: empty DATA without END_STREAM, empty
    /// CONTINUATION, unknown-type frames. Default 1000 per 10 s.
    pub empty_frame_rate: Rate,
    /// PING ACKs queued for sending that the peer has not read.
    /// Default 32; past it GOAWAY(ENHANCE_YOUR_CALM) (ping flood).
    pub max_pending_ping_acks: u32,
    /// SETTINGS ACKs queued for sending that the peer has not read.
    /// Default 8; past it GOAWAY(ENHANCE_YOUR_CALM) (settings flood).
    pub max_pending_settings_acks: u32,
    /// Control bytes (ACKs, RST_STREAM, WINDOW_UPDATE, headers) queued for
    /// the peer and not yet taken by `poll_transmit`. Default 1 MiB; past it
    /// GOAWAY(ENHANCE_YOUR_CALM): the peer triggers output it never reads.
    pub max_pending_control_bytes: usize,
    /// DATA bytes the application may queue per stream before
    /// `send_data` answers [`SendError::Blocked`](super::SendError::Blocked).
    /// Default 256 KiB (one call may overshoot it by its own size).
    pub max_send_buffer: usize,
}

impl Default for Config {
    fn default() -> Self {
        const TEN_S: Duration = Duration::from_secs(10);
        Config {
            header_table_size: 4096,
            max_concurrent_streams: 100,
            initial_window_size: 65_535,
            max_frame_size: 16_384,
            max_header_list_size: 16 << 10,
            stream_window: 1 << 20,
            connection_window: 2 << 20,
            release_mode: ReleaseMode::OnDelivery,
            window_update_policy: WindowUpdatePolicy::Fraction(2),
            settings_timeout: TEN_S,
            handshake_timeout: TEN_S,
            shutdown_ping_timeout: Duration::from_secs(5),
            reset_stream_duration: Duration::from_secs(30),
            max_continuation_frames: 32,
            max_header_block_size: 64 << 10,
            max_closed_streams_remembered: 1024,
            error_answer_rate: Rate::new(200, TEN_S),
            remote_reset_rate: Rate::new(200, TEN_S),
            settings_rate: Rate::new(100, TEN_S),
            ping_rate: Rate::new(100, TEN_S),
            empty_frame_rate: Rate::new(1000, TEN_S),
            max_pending_ping_acks: 32,
            max_pending_settings_acks: 8,
            max_pending_control_bytes: 1 << 20,
            max_send_buffer: 256 << 10,
        }
    }
}

impl Config {
    /// Clamps values into the ranges RFC 9113 allows, so a `Config` can never
    /// make us send an invalid SETTINGS frame.
    pub(crate) fn sanitized(mut self) -> Config {
        use crate::frame::{DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE};
        self.max_frame_size = self
            .max_frame_size
            .clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE);
        self.initial_window_size = self.initial_window_size.min(MAX_WINDOW_SIZE);
        self.stream_window = self
            .stream_window
            .clamp(self.initial_window_size, MAX_WINDOW_SIZE);
        self.connection_window = self.connection_window.clamp(65_535, MAX_WINDOW_SIZE);
        if let WindowUpdatePolicy::Fraction(0) = self.window_update_policy {
            self.window_update_policy = WindowUpdatePolicy::Fraction(1);
        }
        self.max_continuation_frames = self.max_continuation_frames.max(1);
        self
    }
}

/// A [`Config`] checked once (out-of-range values clamped, as
/// [`Connection::new`](super::Connection::new) does with any config) and
/// shared: every connection made from it holds a pointer to it, not a
/// copy, and cloning it is cheap. A server makes one and hands a clone to
/// each connection; a plain `Config` converts into it.
#[derive(Clone, Debug)]
pub struct SharedConfig(Arc<Config>);

impl From<Config> for SharedConfig {
    fn from(config: Config) -> Self {
        SharedConfig(Arc::new(config.sanitized()))
    }
}

impl core::ops::Deref for SharedConfig {
    type Target = Config;

    fn deref(&self) -> &Config {
        &self.0
    }
}
