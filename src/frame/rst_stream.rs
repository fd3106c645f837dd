//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, RstStream};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<RstStream, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl RstStream {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
