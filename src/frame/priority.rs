//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, Priority};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Priority, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl Priority {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
