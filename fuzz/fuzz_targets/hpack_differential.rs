//! Differential: our guarded HPACK decoder against an independent one
//! (`loona-hpack`, a fork of the `hpack` crate; neither shares code with
//! httlib-hpack or our guard) on VALID header blocks.
//!
//! The input describes a sequence of blocks as representations (RFC 7541
//! §6): indexed fields, literals with incremental / without / never
//! indexing, with an indexed or a new name, strings raw or Huffman-coded
//! (by httlib-huffman), and dynamic table size updates at block starts. A
//! model of the dynamic table keeps every index valid, so each block is
//! valid; both decoders (each keeping its table across blocks) must accept
//! it and produce the same list, byte for byte.
#![no_main]

use arbitrary::Arbitrary;
use grpc_sansio::hpack::Decoder;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Name {
    Static(u8),
    Dynamic(u8),
    New(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Rep {
    Indexed {
        dynamic: bool,
        index: u8,
    },
    Literal {
        mode: u8,
        name: Name,
        value: Vec<u8>,
        huff_name: bool,
        huff_value: bool,
    },
}

#[derive(Arbitrary, Debug)]
struct Block {
    size_update: Option<u16>,
    reps: Vec<Rep>,
}

const STATIC_LEN: usize = 61;
const MAX_TABLE: usize = 4096;

/// (name, value) pairs of RFC 7541 Appendix A, only what the model needs:
/// their sizes for eviction come from the names and values.
fn static_entry(i: usize) -> (&'static [u8], &'static [u8]) {
    const T: [(&str, &str); 61] = [
        (":authority", ""),
        (":method", "GET"),
        (":method", "POST"),
        (":path", "/"),
        (":path", "/index.html"),
        (":scheme", "http"),
        (":scheme", "https"),
        (":status", "200"),
        (":status", "204"),
        (":status", "206"),
        (":status", "304"),
        (":status", "400"),
        (":status", "404"),
        (":status", "500"),
        ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"),
        ("accept-language", ""),
        ("accept-ranges", ""),
        ("accept", ""),
        ("access-control-allow-origin", ""),
        ("age", ""),
        ("allow", ""),
        ("authorization", ""),
        ("cache-control", ""),
        ("content-disposition", ""),
        ("content-encoding", ""),
        ("content-language", ""),
        ("content-length", ""),
        ("content-location", ""),
        ("content-range", ""),
        ("content-type", ""),
        ("cookie", ""),
        ("date", ""),
        ("etag", ""),
        ("expect", ""),
        ("expires", ""),
        ("from", ""),
        ("host", ""),
        ("if-match", ""),
        ("if-modified-since", ""),
        ("if-none-match", ""),
        ("if-range", ""),
        ("if-unmodified-since", ""),
        ("last-modified", ""),
        ("link", ""),
        ("location", ""),
        ("max-forwards", ""),
        ("proxy-authenticate", ""),
        ("proxy-authorization", ""),
        ("range", ""),
        ("referer", ""),
        ("refresh", ""),
        ("retry-after", ""),
        ("server", ""),
        ("set-cookie", ""),
        ("strict-transport-security", ""),
        ("transfer-encoding", ""),
        ("user-agent", ""),
        ("vary", ""),
        ("via", ""),
        ("www-authenticate", ""),
    ];
    let (n, v) = T[i];
    (n.as_bytes(), v.as_bytes())
}

/// The dynamic table as the decoders will hold it.
struct Model {
    entries: std::collections::VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max: usize,
}

impl Model {
    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let s = name.len() + value.len() + 32;
        while self.size + s > self.max {
            match self.entries.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
        if s <= self.max {
            self.size += s;
            self.entries.push_front((name, value));
        }
    }
    fn resize(&mut self, max: usize) {
        self.max = max;
        self.insert_nothing();
    }
    fn insert_nothing(&mut self) {
        while self.size > self.max {
            if let Some((n, v)) = self.entries.pop_back() {
                self.size -= n.len() + v.len() + 32;
            }
        }
    }
}

fn int(first: u8, prefix: u32, mut v: usize, out: &mut Vec<u8>) {
    let max = (1usize << prefix) - 1;
    if v < max {
        out.push(first | v as u8);
        return;
    }
    out.push(first | max as u8);
    v -= max;
    while v >= 128 {
        out.push((v % 128) as u8 | 0x80);
        v /= 128;
    }
    out.push(v as u8);
}

fn string(s: &[u8], huffman: bool, out: &mut Vec<u8>) {
    if huffman {
        let mut h = Vec::new();
        if httlib_huffman::encode(s, &mut h).is_ok() {
            int(0x80, 7, h.len(), out);
            out.extend_from_slice(&h);
            return;
        }
    }
    int(0, 7, s.len(), out);
    out.extend_from_slice(s);
}

fuzz_target!(|blocks: Vec<Block>| {
    let mut ours = Decoder::new(MAX_TABLE as u32, usize::MAX);
    let mut theirs = loona_hpack::Decoder::new();
    let mut model = Model {
        entries: Default::default(),
        size: 0,
        max: MAX_TABLE,
    };
    for block in blocks.iter().take(16) {
        let mut bytes = Vec::new();
        let mut expect: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        if let Some(sz) = block.size_update {
            let sz = usize::from(sz) % (MAX_TABLE + 1);
            int(0x20, 5, sz, &mut bytes);
            model.resize(sz);
        }
        for rep in block.reps.iter().take(64) {
            let dyn_len = model.entries.len();
            let lookup = |dynamic: bool, index: u8| -> Option<(usize, Vec<u8>, Vec<u8>)> {
                if dynamic && dyn_len > 0 {
                    let i = usize::from(index) % dyn_len;
                    let (n, v) = &model.entries[i];
                    Some((STATIC_LEN + 1 + i, n.clone(), v.clone()))
                } else {
                    let i = usize::from(index) % STATIC_LEN;
                    let (n, v) = static_entry(i);
                    Some((i + 1, n.to_vec(), v.to_vec()))
                }
            };
            match rep {
                Rep::Indexed { dynamic, index } => {
                    let (i, n, v) = lookup(*dynamic, *index).unwrap();
                    int(0x80, 7, i, &mut bytes);
                    expect.push((n, v));
                }
                Rep::Literal {
                    mode,
                    name,
                    value,
                    huff_name,
                    huff_value,
                } => {
                    let value: Vec<u8> = value.iter().take(512).copied().collect();
                    let (first, prefix, indexing) = match mode % 3 {
                        0 => (0x40, 6, true),
                        1 => (0x00, 4, false),
                        _ => (0x10, 4, false),
                    };
                    let name_bytes = match name {
                        Name::Static(i) => {
                            let (i, n, _) = lookup(false, *i).unwrap();
                            int(first, prefix, i, &mut bytes);
                            n
                        }
                        Name::Dynamic(i) => {
                            let (i, n, _) = lookup(true, *i).unwrap();
                            int(first, prefix, i, &mut bytes);
                            n
                        }
                        Name::New(n) => {
                            let n: Vec<u8> = n.iter().take(64).copied().collect();
                            bytes.push(first);
                            string(&n, *huff_name, &mut bytes);
                            n
                        }
                    };
                    string(&value, *huff_value, &mut bytes);
                    if indexing {
                        model.insert(name_bytes.clone(), value.clone());
                    }
                    expect.push((name_bytes, value));
                }
            }
        }
        let theirs_out = match theirs.decode(&bytes) {
            Ok(list) => list,
            // The reference refused a block the model says is valid (it is
            // stricter somewhere, e.g. empty Huffman strings): stop here.
            Err(_) => return,
        };
        let ours_out = ours
            .decode(&bytes)
            .unwrap_or_else(|e| panic!("valid block refused: {e:?}\n{bytes:02x?}"));
        let ours_out: Vec<(Vec<u8>, Vec<u8>)> = ours_out
            .iter()
            .map(|f| (f.name.to_vec(), f.value.to_vec()))
            .collect();
        assert_eq!(ours_out, theirs_out, "decoders disagree on {bytes:02x?}");
        assert_eq!(ours_out, expect, "both disagree with the model");
    }
});
