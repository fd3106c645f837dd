//! STUB: being written.
use bytes::Bytes;

use super::{Frame, FrameError};

/// Splits received bytes into frames. STUB.
#[derive(Debug)]
pub struct FrameDecoder {
    _p: (),
}

impl FrameDecoder {
    /// A decoder accepting frames up to `max_frame_size` payload bytes.
    pub fn new(max_frame_size: u32) -> Self {
        let _ = max_frame_size;
        todo!()
    }
    /// Makes the decoder expect the client connection preface first (server role).
    pub fn expect_preface(&mut self) {
        todo!()
    }
    /// Changes the largest accepted payload (our SETTINGS_MAX_FRAME_SIZE once acked).
    pub fn set_max_frame_size(&mut self, max_frame_size: u32) {
        let _ = max_frame_size;
        todo!()
    }
    /// Appends received bytes.
    pub fn push(&mut self, data: Bytes) {
        let _ = data;
        todo!()
    }
    /// The next complete frame, `Ok(None)` if more bytes are needed.
    pub fn decode(&mut self) -> Result<Option<Frame>, FrameError> {
        todo!()
    }
    /// Bytes buffered, waiting for the rest of a frame.
    pub fn buffered_len(&self) -> usize {
        todo!()
    }
}
