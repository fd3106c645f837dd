//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, GoAway};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<GoAway, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl GoAway {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
