//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, Continuation};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Continuation, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl Continuation {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
