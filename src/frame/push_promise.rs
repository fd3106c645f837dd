//! STUB: being written.
use bytes::{Bytes, BytesMut};

use super::{FrameError, FrameHeader, PushPromise};

pub(crate) fn parse(header: FrameHeader, payload: Bytes) -> Result<PushPromise, FrameError> {
    let _ = (header, payload);
    todo!()
}

impl PushPromise {
    /// Appends the whole frame to `dst`.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = dst;
        todo!()
    }
}
