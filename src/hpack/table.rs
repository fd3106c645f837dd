//! The static table (RFC 7541 Appendix A) and a dynamic table (RFC 7541
//! §2.3.2, §4): the decoder's mirror of `httlib-hpack`'s table (so indexed
//! fields are served from it without a call into the dependency), and the
//! encoder's own table.

use std::collections::VecDeque;

use bytes::Bytes;

/// The static table, RFC 7541 Appendix A; index `i` here is HPACK index `i + 1`.
pub(crate) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// Number of static entries; dynamic indices start after it (RFC 7541 §2.3.3).
pub(crate) const STATIC_LEN: usize = STATIC.len();

/// The static entry at HPACK index `index` (1-based), if it is one.
pub(crate) fn static_entry(index: usize) -> Option<(&'static [u8], &'static [u8])> {
    STATIC.get(index.checked_sub(1)?).copied()
}

/// Finds `(name, value)` in the static table: `(index, value_matched)`,
/// preferring a full match over a name match.
pub(crate) fn static_find(name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
    let first = static_name_index(name)?;
    // Entries with the same name are adjacent.
    for (i, (n, v)) in STATIC.iter().enumerate().skip(first - 1) {
        if *n != name {
            break;
        }
        if *v == value {
            return Some((i + 1, true));
        }
    }
    Some((first, false))
}

/// The first static index of a name (a `match`, which compiles to a
/// length switch and a few comparisons instead of a scan of 61 entries).
fn static_name_index(name: &[u8]) -> Option<usize> {
    Some(match name {
        b":authority" => 1,
        b":method" => 2,
        b":path" => 4,
        b":scheme" => 6,
        b":status" => 8,
        b"accept-charset" => 15,
        b"accept-encoding" => 16,
        b"accept-language" => 17,
        b"accept-ranges" => 18,
        b"accept" => 19,
        b"access-control-allow-origin" => 20,
        b"age" => 21,
        b"allow" => 22,
        b"authorization" => 23,
        b"cache-control" => 24,
        b"content-disposition" => 25,
        b"content-encoding" => 26,
        b"content-language" => 27,
        b"content-length" => 28,
        b"content-location" => 29,
        b"content-range" => 30,
        b"content-type" => 31,
        b"cookie" => 32,
        b"date" => 33,
        b"etag" => 34,
        b"expect" => 35,
        b"expires" => 36,
        b"from" => 37,
        b"host" => 38,
        b"if-match" => 39,
        b"if-modified-since" => 40,
        b"if-none-match" => 41,
        b"if-range" => 42,
        b"if-unmodified-since" => 43,
        b"last-modified" => 44,
        b"link" => 45,
        b"location" => 46,
        b"max-forwards" => 47,
        b"proxy-authenticate" => 48,
        b"proxy-authorization" => 49,
        b"range" => 50,
        b"referer" => 51,
        b"refresh" => 52,
        b"retry-after" => 53,
        b"server" => 54,
        b"set-cookie" => 55,
        b"strict-transport-security" => 56,
        b"transfer-encoding" => 57,
        b"user-agent" => 58,
        b"vary" => 59,
        b"via" => 60,
        b"www-authenticate" => 61,
        _ => return None,
    })
}

/// Copies of `name` and `value` in one allocation (a table entry costs one
/// block of memory, not two or four): the two are slices of it.
pub(crate) fn joined(name: &[u8], value: &[u8]) -> (Bytes, Bytes) {
    let mut both = bytes::BytesMut::with_capacity(name.len() + value.len());
    both.extend_from_slice(name);
    both.extend_from_slice(value);
    let both = both.freeze();
    (both.slice(..name.len()), both.slice(name.len()..))
}

/// The size an entry counts for in the table: RFC 7541 §4.1.
pub(crate) fn entry_size(name_len: usize, value_len: usize) -> usize {
    name_len.saturating_add(value_len).saturating_add(32)
}

/// A dynamic table: entries newest first (lowest dynamic index), with the
/// size accounting and evictions of RFC 7541 §4.1–4.4.
#[derive(Debug)]
pub(crate) struct SizeTable {
    /// `(name, value)`, newest first.
    entries: VecDeque<(Bytes, Bytes)>,
    /// Sum of entry sizes (RFC 7541 §4.1).
    size: usize,
    /// Maximum size in force (RFC 7541 §4.2).
    max: u32,
    /// Counts inserts and size changes: while it stays the same, every
    /// index means the same field (see `memo.rs`).
    changes: u64,
}

impl SizeTable {
    pub(crate) fn new(max: u32) -> Self {
        SizeTable {
            entries: VecDeque::new(),
            size: 0,
            max,
            changes: 0,
        }
    }

    /// Gives back the entry queue's spare capacity.
    pub(crate) fn shrink(&mut self) {
        self.entries.shrink_to_fit();
    }

    /// Current size in bytes (RFC 7541 §4.1).
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Maximum size in force.
    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    /// Number of dynamic entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// `(name_len, value_len)` of the entry at HPACK index `index`
    /// (static or dynamic, 1-based), if it exists (RFC 7541 §2.3.3).
    pub(crate) fn lookup(&self, index: usize) -> Option<(usize, usize)> {
        if let Some((n, v)) = static_entry(index) {
            return Some((n.len(), v.len()));
        }
        let dynamic = index.checked_sub(STATIC_LEN + 1)?;
        self.entries.get(dynamic).map(|(n, v)| (n.len(), v.len()))
    }

    /// The dynamic entry at HPACK index `index`, if it is one.
    pub(crate) fn dynamic_entry(&self, index: usize) -> Option<&(Bytes, Bytes)> {
        self.entries.get(index.checked_sub(STATIC_LEN + 1)?)
    }

    /// Finds `(name, value)` among the dynamic entries: the HPACK index of
    /// a full match, else of the newest entry with that name.
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> Option<(usize, bool)> {
        let mut name_match = None;
        for (i, (n, v)) in self.entries.iter().enumerate() {
            if n.len() == name.len() && n[..] == *name {
                if v[..] == *value {
                    return Some((STATIC_LEN + 1 + i, true));
                }
                name_match.get_or_insert(STATIC_LEN + 1 + i);
            }
        }
        name_match.map(|i| (i, false))
    }

    /// Changes the maximum size, evicting as needed (RFC 7541 §4.3).
    /// Counts the changes made to the table so far.
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    pub(crate) fn set_max(&mut self, max: u32) {
        self.changes = self.changes.wrapping_add(1);
        self.max = max;
        self.evict_to(max as usize);
    }

    /// Adds an entry, evicting older ones first; an entry larger than the
    /// maximum empties the table and is not added (RFC 7541 §4.4).
    pub(crate) fn insert(&mut self, name: Bytes, value: Bytes) {
        self.changes = self.changes.wrapping_add(1);
        let entry = entry_size(name.len(), value.len());
        let max = self.max as usize;
        if entry > max {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(max - entry);
        self.entries.push_front((name, value));
        self.size += entry;
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some((n, v)) => self.size = self.size.saturating_sub(entry_size(n.len(), v.len())),
                None => {
                    self.size = 0;
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_lookups() {
        assert_eq!(static_entry(0), None);
        assert_eq!(static_entry(2), Some((&b":method"[..], &b"GET"[..])));
        assert_eq!(static_entry(61), Some((&b"www-authenticate"[..], &b""[..])));
        assert_eq!(static_entry(62), None);
        assert_eq!(static_find(b":method", b"POST"), Some((3, true)));
        assert_eq!(static_find(b":status", b"302"), Some((8, false)));
        assert_eq!(
            static_find(b"content-type", b"application/grpc"),
            Some((31, false))
        );
        assert_eq!(static_find(b"grpc-status", b"0"), None);
        // Every entry is found at its own index (or an earlier duplicate).
        for (i, (n, v)) in STATIC.iter().enumerate() {
            assert_eq!(static_find(n, v), Some((i + 1, true)), "entry {i}");
        }
    }

    #[test]
    fn static_table_matches_httlib() {
        // Cross-check our transcription of Appendix A against the wrapped crate.
        let mut dec = httlib_hpack::Decoder::default();
        for i in 1..=61u8 {
            let mut buf = vec![0x80 | i];
            let mut out = Vec::new();
            dec.decode(&mut buf, &mut out).unwrap();
            let (n, v) = static_entry(usize::from(i)).unwrap();
            assert_eq!((&out[0].0[..], &out[0].1[..]), (n, v), "index {i}");
        }
    }

    #[test]
    fn evictions() {
        let b = |n: usize| Bytes::from(vec![b'a'; n]);
        let mut t = SizeTable::new(100);
        t.insert(b(1), b(1)); // 34
        t.insert(b(2), b(2)); // 36
        assert_eq!((t.len(), t.size()), (2, 70));
        assert_eq!(t.lookup(62), Some((2, 2)));
        assert_eq!(t.lookup(63), Some((1, 1)));
        assert_eq!(t.lookup(64), None);
        t.insert(b(3), b(3)); // 38: evicts the oldest
        assert_eq!((t.len(), t.size()), (2, 74));
        t.set_max(40);
        assert_eq!((t.len(), t.size()), (1, 38));
        t.insert(b(10), b(10)); // 52 > 40: empties the table
        assert_eq!((t.len(), t.size()), (0, 0));
        t.set_max(0);
        t.insert(b(0), b(0));
        assert_eq!((t.len(), t.size()), (0, 0));
    }
}
