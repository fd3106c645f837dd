//! The static table (RFC 7541 Appendix A) and a size-only mirror of a
//! dynamic table (RFC 7541 §2.3.2, §4).

use std::collections::VecDeque;

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
    let mut name_match = None;
    for (i, (n, v)) in STATIC.iter().enumerate() {
        if *n == name {
            if *v == value {
                return Some((i + 1, true));
            }
            name_match.get_or_insert(i + 1);
        } else if name_match.is_some() {
            // Entries with the same name are adjacent.
            break;
        }
    }
    name_match.map(|i| (i, false))
}

/// The size an entry counts for in the table: RFC 7541 §4.1.
pub(crate) fn entry_size(name_len: usize, value_len: usize) -> usize {
    name_len.saturating_add(value_len).saturating_add(32)
}

/// Mirror of a dynamic table that keeps only entry lengths, enough to
/// validate indices, size fields and follow evictions (RFC 7541 §4.2-4.4).
#[derive(Debug)]
pub(crate) struct SizeTable {
    /// `(name_len, value_len)`, newest first (lowest dynamic index).
    entries: VecDeque<(usize, usize)>,
    /// Sum of entry sizes (RFC 7541 §4.1).
    size: usize,
    /// Maximum size in force (RFC 7541 §4.2).
    max: u32,
}

impl SizeTable {
    pub(crate) fn new(max: u32) -> Self {
        SizeTable {
            entries: VecDeque::new(),
            size: 0,
            max,
        }
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
        self.entries.get(dynamic).copied()
    }

    /// Changes the maximum size, evicting as needed (RFC 7541 §4.3).
    pub(crate) fn set_max(&mut self, max: u32) {
        self.max = max;
        self.evict_to(max as usize);
    }

    /// Adds an entry, evicting older ones first; an entry larger than the
    /// maximum empties the table and is not added (RFC 7541 §4.4).
    pub(crate) fn insert(&mut self, name_len: usize, value_len: usize) {
        let entry = entry_size(name_len, value_len);
        let max = self.max as usize;
        if entry > max {
            self.entries.clear();
            self.size = 0;
            return;
        }
        self.evict_to(max - entry);
        self.entries.push_front((name_len, value_len));
        self.size += entry;
    }

    fn evict_to(&mut self, target: usize) {
        while self.size > target {
            match self.entries.pop_back() {
                Some((n, v)) => self.size = self.size.saturating_sub(entry_size(n, v)),
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
        let mut t = SizeTable::new(100);
        t.insert(1, 1); // 34
        t.insert(2, 2); // 36
        assert_eq!((t.len(), t.size()), (2, 70));
        assert_eq!(t.lookup(62), Some((2, 2)));
        assert_eq!(t.lookup(63), Some((1, 1)));
        assert_eq!(t.lookup(64), None);
        t.insert(3, 3); // 38: evicts the oldest
        assert_eq!((t.len(), t.size()), (2, 74));
        t.set_max(40);
        assert_eq!((t.len(), t.size()), (1, 38));
        t.insert(10, 10); // 52 > 40: empties the table
        assert_eq!((t.len(), t.size()), (0, 0));
        t.set_max(0);
        t.insert(0, 0);
        assert_eq!((t.len(), t.size()), (0, 0));
    }
}
