//! The descriptor index behind the reflection service: registered files
//! (each kept as its original encoded bytes, a slice of the registered
//! set), and what each declares — symbols by full name, extensions by
//! (extended message, number), services.
//!
//! Only the parts of `google/protobuf/descriptor.proto` reflection needs
//! are decoded, by the small private messages below; every other field
//! (options, source info, field types…) is skipped by prost and stays
//! untouched in the bytes that are served.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use bytes::Bytes;
use prost::Message;

/// Why a descriptor set was not registered. Registration is all or
/// nothing: after an error the service is as it was before the call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DescriptorError {
    /// The bytes are not an encoded `google.protobuf.FileDescriptorSet`.
    MalformedSet {
        /// What is wrong, and where (byte offset).
        reason: String,
    },
    /// Entry `index` of the set (0-based) is not an encoded
    /// `google.protobuf.FileDescriptorProto`.
    MalformedFile {
        /// The entry's position in the set.
        index: usize,
        /// What prost could not decode.
        reason: String,
    },
    /// Entry `index` of the set has no file name.
    UnnamedFile {
        /// The entry's position in the set.
        index: usize,
    },
    /// A file of this name is already registered (or appears earlier in the
    /// set) with different bytes. The same file registered twice with the
    /// same bytes is fine (sets that share imports).
    DuplicateFile {
        /// The file name, e.g. `google/protobuf/empty.proto`.
        name: String,
    },
    /// Two different files declare the same fully-qualified symbol.
    DuplicateSymbol {
        /// The symbol, e.g. `shop.Cart`.
        symbol: String,
        /// The file that declared it first.
        first: String,
        /// The file that declares it again.
        second: String,
    },
    /// Two different files declare an extension of the same message with
    /// the same number.
    DuplicateExtension {
        /// The extended message's full name.
        extendee: String,
        /// The field number.
        number: i32,
        /// The file that declared it first.
        first: String,
        /// The file that declares it again.
        second: String,
    },
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DescriptorError::MalformedSet { reason } => {
                write!(f, "malformed FileDescriptorSet: {reason}")
            }
            DescriptorError::MalformedFile { index, reason } => {
                write!(f, "file {index} of the set is malformed: {reason}")
            }
            DescriptorError::UnnamedFile { index } => {
                write!(f, "file {index} of the set has no name")
            }
            DescriptorError::DuplicateFile { name } => {
                write!(f, "file {name:?} is already registered with other content")
            }
            DescriptorError::DuplicateSymbol {
                symbol,
                first,
                second,
            } => write!(
                f,
                "symbol {symbol} of {second:?} is already declared by {first:?}"
            ),
            DescriptorError::DuplicateExtension {
                extendee,
                number,
                first,
                second,
            } => write!(
                f,
                "extension {number} of {extendee} in {second:?} is already declared by {first:?}"
            ),
        }
    }
}

impl std::error::Error for DescriptorError {}

// ---- the parts of descriptor.proto we decode ----

/// `google.protobuf.FileDescriptorProto`: name, package, imports and the
/// declarations.
#[derive(Clone, PartialEq, Message)]
struct FileProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    package: String,
    #[prost(string, repeated, tag = "3")]
    dependency: Vec<String>,
    #[prost(message, repeated, tag = "4")]
    message_type: Vec<MessageProto>,
    #[prost(message, repeated, tag = "5")]
    enum_type: Vec<EnumProto>,
    #[prost(message, repeated, tag = "6")]
    service: Vec<ServiceProto>,
    #[prost(message, repeated, tag = "7")]
    extension: Vec<FieldProto>,
}

/// `google.protobuf.DescriptorProto`.
#[derive(Clone, PartialEq, Message)]
struct MessageProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    field: Vec<FieldProto>,
    #[prost(message, repeated, tag = "3")]
    nested_type: Vec<MessageProto>,
    #[prost(message, repeated, tag = "4")]
    enum_type: Vec<EnumProto>,
    #[prost(message, repeated, tag = "6")]
    extension: Vec<FieldProto>,
    #[prost(message, repeated, tag = "8")]
    oneof_decl: Vec<NamedProto>,
}

/// `google.protobuf.FieldDescriptorProto`: a field or an extension.
#[derive(Clone, PartialEq, Message)]
struct FieldProto {
    #[prost(string, tag = "1")]
    name: String,
    /// The extended message, for an extension: `.pkg.Message` as
    /// compilers write it (fully qualified, with a leading dot).
    #[prost(string, tag = "2")]
    extendee: String,
    #[prost(int32, tag = "3")]
    number: i32,
}

/// `google.protobuf.EnumDescriptorProto`.
#[derive(Clone, PartialEq, Message)]
struct EnumProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    value: Vec<NamedProto>,
}

/// `google.protobuf.ServiceDescriptorProto`.
#[derive(Clone, PartialEq, Message)]
struct ServiceProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    method: Vec<NamedProto>,
}

/// Any descriptor of which only the name (field 1) matters here:
/// `OneofDescriptorProto`, `EnumValueDescriptorProto`,
/// `MethodDescriptorProto`.
#[derive(Clone, PartialEq, Message)]
struct NamedProto {
    #[prost(string, tag = "1")]
    name: String,
}

// ---- the index ----

/// What kind of declaration a symbol names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Message,
    Field,
    Oneof,
    Enum,
    EnumValue,
    Service,
    Method,
    Extension,
}

/// A registered file.
#[derive(Debug)]
struct File {
    name: String,
    /// The original encoded `FileDescriptorProto`.
    bytes: Bytes,
    dependencies: Vec<String>,
}

/// Registered files and what they declare.
#[derive(Debug, Default)]
pub(super) struct Index {
    files: Vec<File>,
    by_name: BTreeMap<String, usize>,
    /// Full name (no leading dot) → (declaring file, kind).
    symbols: BTreeMap<String, (usize, Kind)>,
    /// (extended message's full name, number) → declaring file.
    extensions: BTreeMap<(String, i32), usize>,
    /// Full names of the services declared, sorted.
    services: BTreeSet<String>,
}

/// What one file declares, gathered before anything is committed.
#[derive(Default)]
struct Declarations {
    symbols: Vec<(String, Kind)>,
    extensions: Vec<(String, i32)>,
    services: Vec<String>,
}

impl Index {
    /// Registers every file of an encoded `FileDescriptorSet`; all or
    /// nothing.
    pub(super) fn add_set(&mut self, set: Bytes) -> Result<(), DescriptorError> {
        let entries = split_set(&set).map_err(|reason| DescriptorError::MalformedSet { reason })?;
        // Staged: the files new to the index, with what they declare.
        let mut staged: Vec<(File, Declarations)> = Vec::new();
        for (index, bytes) in entries.into_iter().enumerate() {
            let proto =
                FileProto::decode(bytes.clone()).map_err(|e| DescriptorError::MalformedFile {
                    index,
                    reason: e.to_string(),
                })?;
            if proto.name.is_empty() {
                return Err(DescriptorError::UnnamedFile { index });
            }
            let known = self
                .by_name
                .get(&proto.name)
                .map(|&i| &self.files[i].bytes)
                .or_else(|| {
                    staged
                        .iter()
                        .find(|(f, _)| f.name == proto.name)
                        .map(|(f, _)| &f.bytes)
                });
            match known {
                Some(b) if *b == bytes => continue,
                Some(_) => return Err(DescriptorError::DuplicateFile { name: proto.name }),
                None => {}
            }
            let decls = declarations(&proto);
            staged.push((
                File {
                    name: proto.name,
                    bytes,
                    dependencies: proto.dependency,
                },
                decls,
            ));
        }
        self.check_conflicts(&staged)?;
        for (file, decls) in staged {
            let i = self.files.len();
            self.by_name.insert(file.name.clone(), i);
            for (symbol, kind) in decls.symbols {
                self.symbols.entry(symbol).or_insert((i, kind));
            }
            for key in decls.extensions {
                self.extensions.entry(key).or_insert(i);
            }
            self.services.extend(decls.services);
            self.files.push(file);
        }
        Ok(())
    }

    /// Fails if a staged file declares a symbol or an extension that
    /// another file (registered or staged) declares too.
    fn check_conflicts(&self, staged: &[(File, Declarations)]) -> Result<(), DescriptorError> {
        let mut symbols: BTreeMap<&str, &str> = BTreeMap::new();
        let mut extensions: BTreeMap<(&str, i32), &str> = BTreeMap::new();
        for (file, decls) in staged {
            for (symbol, _) in &decls.symbols {
                let first = match self.symbols.get(symbol) {
                    Some(&(i, _)) => Some(self.files[i].name.as_str()),
                    None => symbols.get(symbol.as_str()).copied(),
                };
                match first {
                    Some(first) if first != file.name => {
                        return Err(DescriptorError::DuplicateSymbol {
                            symbol: symbol.clone(),
                            first: first.to_string(),
                            second: file.name.clone(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        symbols.insert(symbol, &file.name);
                    }
                }
            }
            for (extendee, number) in &decls.extensions {
                let key = (extendee.clone(), *number);
                let first = match self.extensions.get(&key) {
                    Some(&i) => Some(self.files[i].name.as_str()),
                    None => extensions.get(&(extendee.as_str(), *number)).copied(),
                };
                match first {
                    Some(first) if first != file.name => {
                        return Err(DescriptorError::DuplicateExtension {
                            extendee: extendee.clone(),
                            number: *number,
                            first: first.to_string(),
                            second: file.name.clone(),
                        });
                    }
                    Some(_) => {}
                    None => {
                        extensions.insert((extendee, *number), &file.name);
                    }
                }
            }
        }
        Ok(())
    }

    /// Full names of every service declared by a registered file, sorted.
    pub(super) fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }

    /// What a fully-qualified name declares (a leading dot is ignored).
    pub(super) fn symbol(&self, name: &str) -> Option<Kind> {
        let name = name.strip_prefix('.').unwrap_or(name);
        self.symbols.get(name).map(|&(_, kind)| kind)
    }

    /// The file named `name`, then its transitive dependencies (breadth
    /// first, each once). Dependencies that are not registered are left
    /// out.
    pub(super) fn file_by_name(&self, name: &str) -> Option<Vec<Bytes>> {
        self.by_name.get(name).map(|&i| self.with_dependencies(i))
    }

    /// The file declaring `symbol`, then its transitive dependencies.
    pub(super) fn file_containing_symbol(&self, symbol: &str) -> Option<Vec<Bytes>> {
        let symbol = symbol.strip_prefix('.').unwrap_or(symbol);
        self.symbols
            .get(symbol)
            .map(|&(i, _)| self.with_dependencies(i))
    }

    /// The file declaring extension `number` of message `extendee`, then
    /// its transitive dependencies.
    pub(super) fn file_containing_extension(
        &self,
        extendee: &str,
        number: i32,
    ) -> Option<Vec<Bytes>> {
        let extendee = extendee.strip_prefix('.').unwrap_or(extendee);
        self.extensions
            .get(&(extendee.to_string(), number))
            .map(|&i| self.with_dependencies(i))
    }

    /// The numbers of the known extensions of message `extendee`, sorted;
    /// `None` when no registered file declares that message.
    pub(super) fn extension_numbers(&self, extendee: &str) -> Option<Vec<i32>> {
        let extendee = extendee.strip_prefix('.').unwrap_or(extendee);
        if self.symbol(extendee) != Some(Kind::Message) {
            return None;
        }
        let from = (extendee.to_string(), i32::MIN);
        Some(
            self.extensions
                .range(from..)
                .take_while(|((e, _), _)| e == extendee)
                .map(|((_, n), _)| *n)
                .collect(),
        )
    }

    fn with_dependencies(&self, root: usize) -> Vec<Bytes> {
        let mut seen = BTreeSet::from([root]);
        let mut queue = VecDeque::from([root]);
        let mut out = Vec::new();
        while let Some(i) = queue.pop_front() {
            let file = &self.files[i];
            out.push(file.bytes.clone());
            for dep in &file.dependencies {
                if let Some(&d) = self.by_name.get(dep) {
                    if seen.insert(d) {
                        queue.push_back(d);
                    }
                }
            }
        }
        out
    }
}

/// `scope.name`, or `name` in the root scope.
fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

/// Every symbol, extension and service a file declares, named as
/// protobuf scopes them (an enum's values are siblings of the enum).
fn declarations(file: &FileProto) -> Declarations {
    let mut d = Declarations::default();
    let scope = file.package.as_str();
    for m in &file.message_type {
        message(&mut d, scope, m);
    }
    for e in &file.enum_type {
        enumeration(&mut d, scope, e);
    }
    for x in &file.extension {
        extension(&mut d, scope, x);
    }
    for s in &file.service {
        let name = join(scope, &s.name);
        for m in &s.method {
            d.symbols.push((join(&name, &m.name), Kind::Method));
        }
        d.services.push(name.clone());
        d.symbols.push((name, Kind::Service));
    }
    d
}

fn message(d: &mut Declarations, scope: &str, m: &MessageProto) {
    let name = join(scope, &m.name);
    for f in &m.field {
        d.symbols.push((join(&name, &f.name), Kind::Field));
    }
    for o in &m.oneof_decl {
        d.symbols.push((join(&name, &o.name), Kind::Oneof));
    }
    for n in &m.nested_type {
        message(d, &name, n);
    }
    for e in &m.enum_type {
        enumeration(d, &name, e);
    }
    for x in &m.extension {
        extension(d, &name, x);
    }
    d.symbols.push((name, Kind::Message));
}

fn enumeration(d: &mut Declarations, scope: &str, e: &EnumProto) {
    for v in &e.value {
        d.symbols.push((join(scope, &v.name), Kind::EnumValue));
    }
    d.symbols.push((join(scope, &e.name), Kind::Enum));
}

fn extension(d: &mut Declarations, scope: &str, x: &FieldProto) {
    d.symbols.push((join(scope, &x.name), Kind::Extension));
    let extendee = x.extendee.strip_prefix('.').unwrap_or(&x.extendee);
    d.extensions.push((extendee.to_string(), x.number));
}

/// The entries of field 1 (`repeated FileDescriptorProto file`) of an
/// encoded `FileDescriptorSet`, as slices of it; other fields are skipped.
fn split_set(set: &Bytes) -> Result<Vec<Bytes>, String> {
    let mut files = Vec::new();
    let mut at = 0;
    while at < set.len() {
        let field_at = at;
        let key = varint(set, &mut at)?;
        let (number, wire_type) = (key >> 3, key & 7);
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(format!("field number {number} at byte {field_at}"));
        }
        let len = match wire_type {
            0 => {
                varint(set, &mut at)?;
                0
            }
            1 => 8,
            2 => {
                let len = varint(set, &mut at)?;
                usize::try_from(len).map_err(|_| format!("length {len} at byte {field_at}"))?
            }
            5 => 4,
            other => return Err(format!("wire type {other} at byte {field_at}")),
        };
        let end = at
            .checked_add(len)
            .filter(|&end| end <= set.len())
            .ok_or_else(|| format!("field at byte {field_at} runs past the end"))?;
        if number == 1 {
            if wire_type != 2 {
                return Err(format!(
                    "field 1 at byte {field_at} is not length-delimited"
                ));
            }
            files.push(set.slice(at..end));
        }
        at = end;
    }
    Ok(files)
}

/// A base-128 varint at `*at` (at most 10 bytes), advancing past it.
fn varint(buf: &[u8], at: &mut usize) -> Result<u64, String> {
    let start = *at;
    let mut value = 0u64;
    for shift in (0..70).step_by(7) {
        let Some(&b) = buf.get(*at) else {
            return Err(format!("truncated varint at byte {start}"));
        };
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(format!("varint longer than 10 bytes at byte {start}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `google.protobuf.FileDescriptorSet`, to build sets in tests.
    #[derive(Clone, PartialEq, Message)]
    struct SetProto {
        #[prost(bytes = "bytes", repeated, tag = "1")]
        file: Vec<Bytes>,
    }

    fn named(name: &str) -> NamedProto {
        NamedProto { name: name.into() }
    }

    fn field(name: &str, number: i32) -> FieldProto {
        FieldProto {
            name: name.into(),
            extendee: String::new(),
            number,
        }
    }

    fn ext(name: &str, extendee: &str, number: i32) -> FieldProto {
        FieldProto {
            name: name.into(),
            extendee: extendee.into(),
            number,
        }
    }

    fn file(name: &str, package: &str, deps: &[&str]) -> FileProto {
        FileProto {
            name: name.into(),
            package: package.into(),
            dependency: deps.iter().map(|d| d.to_string()).collect(),
            ..FileProto::default()
        }
    }

    fn set(files: &[FileProto]) -> Bytes {
        let set = SetProto {
            file: files
                .iter()
                .map(|f| Bytes::from(f.encode_to_vec()))
                .collect(),
        };
        Bytes::from(set.encode_to_vec())
    }

    /// a.proto (package `a`) imports b.proto and c.proto; b.proto imports
    /// c.proto.
    fn chain() -> Vec<FileProto> {
        let mut c = file("c.proto", "c", &[]);
        c.message_type.push(MessageProto {
            name: "Base".into(),
            field: vec![field("id", 1)],
            ..MessageProto::default()
        });
        let mut b = file("b.proto", "b", &["c.proto"]);
        b.message_type.push(MessageProto {
            name: "Outer".into(),
            nested_type: vec![MessageProto {
                name: "Inner".into(),
                ..MessageProto::default()
            }],
            enum_type: vec![EnumProto {
                name: "Kind".into(),
                value: vec![named("KIND_A")],
            }],
            oneof_decl: vec![named("choice")],
            extension: vec![ext("nested_ext", ".c.Base", 101)],
            ..MessageProto::default()
        });
        b.extension.push(ext("top_ext", ".c.Base", 100));
        let mut a = file("a.proto", "a", &["b.proto", "c.proto"]);
        a.service.push(ServiceProto {
            name: "Svc".into(),
            method: vec![named("Do")],
        });
        a.enum_type.push(EnumProto {
            name: "Color".into(),
            value: vec![named("RED")],
        });
        vec![a, b, c]
    }

    fn names(files: &[Bytes]) -> Vec<String> {
        files
            .iter()
            .map(|b| FileProto::decode(b.clone()).unwrap().name)
            .collect()
    }

    #[test]
    fn files_come_with_their_dependencies_once_each() {
        let mut index = Index::default();
        index.add_set(set(&chain())).unwrap();
        let got = index.file_by_name("a.proto").unwrap();
        assert_eq!(names(&got), ["a.proto", "b.proto", "c.proto"]);
        assert_eq!(
            names(&index.file_by_name("b.proto").unwrap()),
            ["b.proto", "c.proto"]
        );
        assert_eq!(names(&index.file_by_name("c.proto").unwrap()), ["c.proto"]);
        assert!(index.file_by_name("d.proto").is_none());
    }

    #[test]
    fn served_bytes_are_the_registered_ones() {
        let files = chain();
        let registered = set(&files);
        let mut index = Index::default();
        index.add_set(registered.clone()).unwrap();
        let got = index.file_by_name("c.proto").unwrap();
        assert_eq!(got[0], files[2].encode_to_vec());
        // A zero-copy slice of the registered set.
        let range = registered.as_ptr_range();
        assert!(range.contains(&got[0].as_ptr()));
    }

    #[test]
    fn symbols_are_scoped_as_protobuf_does() {
        let mut index = Index::default();
        index.add_set(set(&chain())).unwrap();
        let cases = [
            ("a.Svc", Kind::Service, "a.proto"),
            ("a.Svc.Do", Kind::Method, "a.proto"),
            ("a.Color", Kind::Enum, "a.proto"),
            ("a.RED", Kind::EnumValue, "a.proto"),
            ("b.Outer", Kind::Message, "b.proto"),
            ("b.Outer.Inner", Kind::Message, "b.proto"),
            ("b.Outer.Kind", Kind::Enum, "b.proto"),
            ("b.Outer.KIND_A", Kind::EnumValue, "b.proto"),
            ("b.Outer.choice", Kind::Oneof, "b.proto"),
            ("b.Outer.nested_ext", Kind::Extension, "b.proto"),
            ("b.top_ext", Kind::Extension, "b.proto"),
            ("c.Base", Kind::Message, "c.proto"),
            ("c.Base.id", Kind::Field, "c.proto"),
            (".c.Base", Kind::Message, "c.proto"),
        ];
        for (symbol, kind, file) in cases {
            assert_eq!(index.symbol(symbol), Some(kind), "{symbol}");
            let got = index.file_containing_symbol(symbol).unwrap();
            assert_eq!(names(&got)[0], file, "{symbol}");
        }
        for missing in ["a", "b.Inner", "a.Svc.Undo", "Svc", ""] {
            assert!(index.file_containing_symbol(missing).is_none(), "{missing}");
        }
        assert_eq!(index.services().collect::<Vec<_>>(), ["a.Svc"]);
    }

    #[test]
    fn extensions_by_extendee_and_number() {
        let mut index = Index::default();
        index.add_set(set(&chain())).unwrap();
        let got = index.file_containing_extension("c.Base", 101).unwrap();
        assert_eq!(names(&got), ["b.proto", "c.proto"]);
        assert!(index.file_containing_extension("c.Base", 102).is_none());
        assert_eq!(index.extension_numbers("c.Base"), Some(vec![100, 101]));
        assert_eq!(index.extension_numbers("b.Outer"), Some(vec![]));
        // Not a message, or unknown.
        assert_eq!(index.extension_numbers("a.Svc"), None);
        assert_eq!(index.extension_numbers("c.Nope"), None);
    }

    #[test]
    fn missing_dependencies_are_left_out() {
        let mut index = Index::default();
        let files = chain();
        index.add_set(set(&files[..2])).unwrap();
        assert_eq!(
            names(&index.file_by_name("a.proto").unwrap()),
            ["a.proto", "b.proto"]
        );
        // Registered later (another set), it is found.
        index.add_set(set(&files[2..])).unwrap();
        assert_eq!(
            names(&index.file_by_name("a.proto").unwrap()),
            ["a.proto", "b.proto", "c.proto"]
        );
    }

    #[test]
    fn the_same_file_twice_is_fine_other_content_is_not() {
        let mut index = Index::default();
        let files = chain();
        index.add_set(set(&files)).unwrap();
        index.add_set(set(&files[2..])).unwrap();
        let mut changed = files[2].clone();
        changed.package = "other".into();
        assert_eq!(
            index.add_set(set(&[changed])),
            Err(DescriptorError::DuplicateFile {
                name: "c.proto".into()
            })
        );
        // Twice within one set.
        let mut index = Index::default();
        let mut twice = files[2].clone();
        twice.dependency.push("x.proto".into());
        let err = index.add_set(set(&[files[2].clone(), twice])).unwrap_err();
        assert!(matches!(err, DescriptorError::DuplicateFile { .. }));
    }

    #[test]
    fn conflicting_declarations_leave_the_index_unchanged() {
        let mut index = Index::default();
        index.add_set(set(&chain())).unwrap();
        let mut clash = file("z.proto", "z", &[]);
        clash.message_type.push(MessageProto {
            name: "Ok".into(),
            ..MessageProto::default()
        });
        clash.extension.push(ext("again", ".c.Base", 100));
        let err = index.add_set(set(&[clash.clone()])).unwrap_err();
        assert_eq!(
            err,
            DescriptorError::DuplicateExtension {
                extendee: "c.Base".into(),
                number: 100,
                first: "b.proto".into(),
                second: "z.proto".into(),
            }
        );
        assert!(index.file_by_name("z.proto").is_none());
        assert!(index.symbol("z.Ok").is_none());

        let mut clash = file("y.proto", "a", &[]);
        clash.service.push(ServiceProto {
            name: "Svc".into(),
            method: vec![],
        });
        let err = index.add_set(set(&[clash])).unwrap_err();
        assert_eq!(
            err,
            DescriptorError::DuplicateSymbol {
                symbol: "a.Svc".into(),
                first: "a.proto".into(),
                second: "y.proto".into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "symbol a.Svc of \"y.proto\" is already declared by \"a.proto\""
        );
    }

    #[test]
    fn malformed_sets_are_refused_with_context() {
        let mut index = Index::default();
        // Truncated length-delimited field.
        let err = index
            .add_set(Bytes::from_static(&[0x0a, 0x05, 1]))
            .unwrap_err();
        assert!(matches!(err, DescriptorError::MalformedSet { .. }), "{err}");
        // A group wire type.
        let err = index.add_set(Bytes::from_static(&[0x0b])).unwrap_err();
        assert!(matches!(err, DescriptorError::MalformedSet { .. }), "{err}");
        // Field 1 as a varint.
        let err = index
            .add_set(Bytes::from_static(&[0x08, 0x01]))
            .unwrap_err();
        assert!(matches!(err, DescriptorError::MalformedSet { .. }), "{err}");
        // Field number 0.
        let err = index
            .add_set(Bytes::from_static(&[0x02, 0x00]))
            .unwrap_err();
        assert!(matches!(err, DescriptorError::MalformedSet { .. }), "{err}");
        // An entry that is not a FileDescriptorProto (name as a varint).
        let err = index
            .add_set(Bytes::from_static(&[0x0a, 0x02, 0x08, 0x01]))
            .unwrap_err();
        assert!(
            matches!(err, DescriptorError::MalformedFile { index: 0, .. }),
            "{err}"
        );
        // An unnamed file.
        let err = index.add_set(set(&[file("", "p", &[])])).unwrap_err();
        assert_eq!(err, DescriptorError::UnnamedFile { index: 0 });
        // Unknown fields of the set are skipped; an empty set is fine.
        index
            .add_set(Bytes::from_static(&[0x10, 0x01, 0x1d, 0, 0, 0, 0]))
            .unwrap();
        index.add_set(Bytes::new()).unwrap();
        assert_eq!(index.services().count(), 0);
    }

    #[test]
    fn varints() {
        let mut at = 0;
        assert_eq!(varint(&[0xac, 0x02], &mut at), Ok(300));
        assert_eq!(at, 2);
        let mut at = 0;
        assert!(varint(&[0xff; 11], &mut at).is_err());
        let mut at = 0;
        assert!(varint(&[0x80], &mut at).is_err());
    }
}
