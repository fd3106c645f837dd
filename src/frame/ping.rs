//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, Ping};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Ping, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl Ping {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
