//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, Settings};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<Settings, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl Settings {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
