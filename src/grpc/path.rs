//! [`MethodPath`]: the `:path` of a call, `/package.Service/Method`
//! (PROTOCOL-HTTP2.md, Requests).

use core::fmt;
use core::ops::Deref;
use std::sync::Arc;

/// A call's method path, `/package.Service/Method`, as a server received
/// it. Reads as a `&str` (it dereferences to one); cloning it is cheap, and
/// a server hands out the same shared string for repeated paths, so
/// receiving a call to a method seen recently allocates nothing.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MethodPath(Arc<str>);

impl MethodPath {
    /// A path from a string.
    pub fn new(path: &str) -> MethodPath {
        MethodPath(Arc::from(path))
    }

    /// The path as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for MethodPath {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for MethodPath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl core::borrow::Borrow<str> for MethodPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MethodPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for MethodPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for MethodPath {
    fn from(path: &str) -> MethodPath {
        MethodPath::new(path)
    }
}

impl From<String> for MethodPath {
    fn from(path: String) -> MethodPath {
        MethodPath(Arc::from(path))
    }
}

impl From<MethodPath> for String {
    fn from(path: MethodPath) -> String {
        path.0.to_string()
    }
}

impl PartialEq<str> for MethodPath {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for MethodPath {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for MethodPath {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<MethodPath> for str {
    fn eq(&self, other: &MethodPath) -> bool {
        *self == *other.0
    }
}

impl PartialEq<MethodPath> for &str {
    fn eq(&self, other: &MethodPath) -> bool {
        **self == *other.0
    }
}

impl PartialEq<MethodPath> for String {
    fn eq(&self, other: &MethodPath) -> bool {
        **self == *other.0
    }
}

/// The paths a server received last, to hand out again without
/// allocating (bounded: a few entries, each a path of a request the peer
/// sent).
#[derive(Debug, Default)]
pub(crate) struct RecentPaths {
    paths: [Option<MethodPath>; 8],
    next: usize,
}

impl RecentPaths {
    /// The path for `bytes`, shared with an earlier request's if recent.
    pub(crate) fn get(&mut self, path: &str) -> MethodPath {
        if let Some(p) = self.paths.iter().flatten().find(|p| p.as_str() == path) {
            return p.clone();
        }
        let p = MethodPath::new(path);
        self.paths[self.next] = Some(p.clone());
        self.next = (self.next + 1) % self.paths.len();
        p
    }

    /// Bytes held (for memory accounting).
    pub(crate) fn held_bytes(&self) -> usize {
        self.paths.iter().flatten().map(|p| p.len() + 16).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_reads_like_a_string() {
        let p = MethodPath::new("/a.B/C");
        assert_eq!(p, "/a.B/C");
        assert_eq!("/a.B/C", p);
        assert_eq!(p, String::from("/a.B/C"));
        assert_eq!(p.as_str(), "/a.B/C");
        assert!(p.starts_with("/a."));
        assert_eq!(format!("{p} {p:?}"), "/a.B/C \"/a.B/C\"");
        assert_eq!(String::from(p.clone()), "/a.B/C");
    }

    #[test]
    fn recent_paths_are_shared() {
        let mut recent = RecentPaths::default();
        let a = recent.get("/a.B/C");
        let again = recent.get("/a.B/C");
        assert!(Arc::ptr_eq(&a.0, &again.0));
        for i in 0..20 {
            recent.get(&format!("/x.Y/M{i}"));
        }
        assert_eq!(recent.paths.iter().flatten().count(), 8);
        assert!(!Arc::ptr_eq(&a.0, &recent.get("/a.B/C").0));
    }
}
