//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, WindowUpdate};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<WindowUpdate, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl WindowUpdate {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
