//! Error codes and the two kinds of failure (RFC 9113 §5.4, §7).

use core::fmt;

/// An HTTP/2 error code (RFC 9113 §7), carried by RST_STREAM and GOAWAY.
///
/// Unknown codes are kept as they are: RFC 9113 §7 says they MUST NOT
/// trigger any special behaviour and MAY be treated as `INTERNAL_ERROR`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown, or no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// A generic protocol violation.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// An unexpected internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// The flow-control protocol was violated.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// A SETTINGS frame was not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// A frame arrived after the stream was half-closed or closed.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// The stream was refused before any application processing.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// The header compression context could not be maintained.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// A CONNECT tunnel failed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// The peer behaves in a way that may generate excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// Transport security requirements are not met.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// HTTP/1.1 is required instead of HTTP/2.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);

    /// The name RFC 9113 §7 gives this code, if it is a known one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0 => "NO_ERROR",
            0x1 => "PROTOCOL_ERROR",
            0x2 => "INTERNAL_ERROR",
            0x3 => "FLOW_CONTROL_ERROR",
            0x4 => "SETTINGS_TIMEOUT",
            0x5 => "STREAM_CLOSED",
            0x6 => "FRAME_SIZE_ERROR",
            0x7 => "REFUSED_STREAM",
            0x8 => "CANCEL",
            0x9 => "COMPRESSION_ERROR",
            0xa => "CONNECT_ERROR",
            0xb => "ENHANCE_YOUR_CALM",
            0xc => "INADEQUATE_SECURITY",
            0xd => "HTTP_1_1_REQUIRED",
            _ => return None,
        })
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "ErrorCode({:#x})", self.0),
        }
    }
}

/// The RFC 9113 §7 name (`PROTOCOL_ERROR`), or `unknown error code 0x2a`
/// for a code the RFC does not define: text meant for people, as in status
/// messages and logs.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown error code {:#x}", self.0),
        }
    }
}

impl From<u32> for ErrorCode {
    fn from(v: u32) -> Self {
        ErrorCode(v)
    }
}

/// A connection error (RFC 9113 §5.4.1): the whole connection is over.
///
/// `reason` names the rule that was broken, citing the RFC section, so a
/// trace says *why* and not only *what*.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionError {
    /// The peer broke a rule; we sent GOAWAY with `code`.
    Protocol {
        /// The code sent in our GOAWAY.
        code: ErrorCode,
        /// The rule that was broken (with its RFC section).
        reason: &'static str,
    },
    /// The peer closed the connection with a GOAWAY carrying an error code.
    Remote {
        /// The code the peer sent.
        code: ErrorCode,
        /// The peer's debug data (bounded by the frame size).
        debug_data: bytes::Bytes,
    },
    /// A timer expired: the SETTINGS ACK (`SETTINGS_TIMEOUT`), the preface,
    /// or the graceful-shutdown drain.
    Timeout {
        /// What we were waiting for.
        what: &'static str,
        /// The code sent in our GOAWAY.
        code: ErrorCode,
    },
    /// The transport ended (the adapter reported end of input) before the
    /// connection was shut down cleanly.
    TransportClosed,
    /// The application closed the connection locally with this code.
    Local {
        /// The code sent in our GOAWAY.
        code: ErrorCode,
    },
}

impl ConnectionError {
    /// The HTTP/2 error code that ended the connection.
    pub fn code(&self) -> ErrorCode {
        match self {
            ConnectionError::Protocol { code, .. } => *code,
            ConnectionError::Remote { code, .. } => *code,
            ConnectionError::Timeout { code, .. } => *code,
            ConnectionError::TransportClosed => ErrorCode::NO_ERROR,
            ConnectionError::Local { code } => *code,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Protocol { code, reason } => {
                write!(f, "connection error {code}: {reason}")
            }
            ConnectionError::Remote { code, .. } => write!(f, "the peer sent GOAWAY with {code}"),
            ConnectionError::Timeout { what, .. } => write!(f, "timed out waiting for {what}"),
            ConnectionError::TransportClosed => f.write_str("transport closed"),
            ConnectionError::Local { code } => write!(f, "closed locally with {code}"),
        }
    }
}

impl std::error::Error for ConnectionError {}

/// A stream error (RFC 9113 §5.4.2): one stream ends with RST_STREAM, the
/// connection goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// The code carried by the RST_STREAM.
    pub code: ErrorCode,
    /// The rule that was broken (with its RFC section).
    pub reason: &'static str,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream error {}: {}", self.code, self.reason)
    }
}

impl std::error::Error for StreamError {}
