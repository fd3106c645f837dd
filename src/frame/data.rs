//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, Data};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Data, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl Data {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}

impl Data {
    /// The 9-byte header of a DATA frame carrying `len` bytes, unpadded.
    pub fn head(stream_id: super::StreamId, len: u32, end_stream: bool) -> [u8; super::FRAME_HEADER_LEN] {
        let _ = (stream_id, len, end_stream);
        todo!()
    }
}
