//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, Headers};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Headers, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl Headers {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
