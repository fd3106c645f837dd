//! Where a received DATA payload lives: the chunk given to `recv` that it
//! is a slice of, and so the memory that keeping it keeps alive.

/// Which received chunk a DATA payload is a slice of: keeping the payload
/// keeps that chunk's buffer alive, and [`pinned_len`](Self::pinned_len)
/// is how much that is. A payload the decoder gathered by copying has an
/// origin of its own (its own length).
///
/// The caller of `recv` hands in chunks whose buffers are not much larger
/// than the chunks (the example adapters' read buffers make sure of it),
/// so a chunk's length is an honest measure of the memory behind its
/// slices. The frame decoder keeps no slice of a chunk once it has decoded
/// what it could (the start of a frame left at the end of a read is copied
/// into its gathering buffer), so only the payloads handed out pin chunks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The chunk's number among the chunks received, from 1 (wrapping past
    /// 2^32, far more chunks than are ever held at once); 0 for a copy.
    pub(crate) seq: u32,
    /// The chunk's length as pushed (saturated at 4 GiB).
    len: u32,
}

impl Origin {
    /// A chunk of its own, `len` bytes long.
    pub(crate) fn own(len: usize) -> Origin {
        Origin {
            seq: 0,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }
    }

    /// Chunk number `seq` (not 0), `len` bytes long.
    pub(crate) fn shared(seq: u32, len: usize) -> Origin {
        Origin {
            seq,
            len: u32::try_from(len).unwrap_or(u32::MAX),
        }
    }

    /// The chunk's length.
    pub(crate) fn len(self) -> usize {
        self.len as usize
    }

    /// Bytes a slice of this origin keeps alive: the whole received chunk
    /// (or, for a copy, the copy).
    pub fn pinned_len(self) -> usize {
        self.len()
    }

    /// Whether slices of this origin share a buffer with other slices of
    /// the same origin (copies share nothing).
    pub fn is_shared(self) -> bool {
        self.seq != 0
    }
}
