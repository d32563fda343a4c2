//! A strict JSON reader that accepts exactly what orjson accepts and keeps only the values
//! the contract reads.
//!
//! One pass over a message validates the whole document — RFC 8259 grammar, UTF-8, no
//! byte-order mark, no NaN/Infinity, no leading zeros or trailing commas, no raw control
//! characters, no lone surrogate escapes, at most 1024 nested containers, no number that
//! overflows a double (`1e999`) — and records, for every field path of a [`Trie`], the
//! value found there. Nothing else is materialised: no tree, no map, no string copy unless
//! the string has an escape. Duplicate keys: the last wins (a repeated key clears what its
//! first occurrence recorded below it, as a dict built from the document would).
//!
//! Numbers are read as orjson reads them: an integer that fits 64 bits (signed, or
//! unsigned when positive) is an integer, any other number a correctly rounded double.

use std::borrow::Cow;

/// orjson's nesting limit: 1024 nested arrays/objects are a document, 1025 are not.
pub const MAX_DEPTH: usize = 1024;

/// A value at a field path. `Missing`: the path is absent (or runs through a non-object).
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Missing,
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    Obj,
    Arr,
}

impl Val<'_> {
    /// Absent or null: the contract treats both as "not there".
    pub fn is_absent(&self) -> bool {
        matches!(self, Val::Missing | Val::Null)
    }

    /// The double of a JSON number (Python's `float(v)`: correctly rounded), None otherwise.
    pub fn number(&self) -> Option<f64> {
        match *self {
            Val::Int(i) => Some(i as f64),
            Val::UInt(u) => Some(u as f64),
            Val::Float(x) => Some(x),
            _ => None,
        }
    }
}

/// The field paths to record, as a tree of keys; each path's end has a slot.
#[derive(Debug, Default)]
pub struct Trie {
    nodes: Vec<Node>,
    slots: usize,
}

#[derive(Debug, Default)]
struct Node {
    slot: Option<usize>,
    children: Vec<(Box<[u8]>, usize)>,
    /// the slots of this node and its descendants are `first..end` (numbered depth first)
    first: usize,
    end: usize,
}

impl Trie {
    /// A trie of `paths`; returns it and each path's slot (equal paths share one).
    pub fn new(paths: &[Vec<String>]) -> (Trie, Vec<usize>) {
        let mut nodes = vec![Node::default()];
        let mut ends = Vec::with_capacity(paths.len());
        for path in paths {
            let mut at = 0;
            for key in path {
                let found = nodes[at]
                    .children
                    .iter()
                    .find(|(k, _)| **k == *key.as_bytes());
                at = match found {
                    Some(&(_, child)) => child,
                    None => {
                        nodes.push(Node::default());
                        let child = nodes.len() - 1;
                        nodes[at].children.push((key.as_bytes().into(), child));
                        child
                    }
                };
            }
            nodes[at].slot = Some(usize::MAX); // numbered below
            ends.push(at);
        }
        let mut trie = Trie { nodes, slots: 0 };
        trie.number(0);
        let slots = ends
            .iter()
            .map(|&n| trie.nodes[n].slot.expect("numbered"))
            .collect();
        (trie, slots)
    }

    fn number(&mut self, node: usize) {
        self.nodes[node].first = self.slots;
        if self.nodes[node].slot.is_some() {
            self.nodes[node].slot = Some(self.slots);
            self.slots += 1;
        }
        for k in 0..self.nodes[node].children.len() {
            let child = self.nodes[node].children[k].1;
            self.number(child);
        }
        self.nodes[node].end = self.slots;
    }

    /// How many slots a [`Parser`] fills.
    pub fn slots(&self) -> usize {
        self.slots
    }

    fn child(&self, node: usize, key: &[u8]) -> Option<usize> {
        self.nodes[node]
            .children
            .iter()
            .find(|(k, _)| **k == *key)
            .map(|&(_, c)| c)
    }
}

/// The document is not JSON as orjson reads it (or not an object: the reader rejects both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bad;

type R<T> = Result<T, Bad>;

/// bytes that end a run of plain string content: `"`, `\` and the control characters
const STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Reads documents against one trie; `vals[slot]` holds what the last document had there.
pub struct Parser<'a, 't> {
    trie: &'t Trie,
    b: &'a [u8],
    i: usize,
    pub vals: Vec<Val<'a>>,
    key: Vec<u8>,
}

impl<'a, 't> Parser<'a, 't> {
    pub fn new(trie: &'t Trie) -> Self {
        Parser {
            trie,
            b: &[],
            i: 0,
            vals: vec![Val::Missing; trie.slots()],
            key: Vec::new(),
        }
    }

    /// Reads one document; Ok only if it is JSON (as orjson reads it) and an object.
    pub fn read(&mut self, doc: &'a [u8]) -> R<()> {
        if std::str::from_utf8(doc).is_err() {
            return Err(Bad);
        }
        self.b = doc;
        self.i = 0;
        for v in self.vals.iter_mut() {
            *v = Val::Missing;
        }
        self.ws();
        if self.b.get(self.i) != Some(&b'{') {
            return Err(Bad);
        }
        self.i += 1;
        self.object(1, Some(0))?;
        self.ws();
        if self.i != self.b.len() {
            return Err(Bad);
        }
        Ok(())
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline]
    fn next(&mut self) -> R<u8> {
        let c = *self.b.get(self.i).ok_or(Bad)?;
        self.i += 1;
        Ok(c)
    }

    /// The members of an object whose `{` was read; `node`: where it sits in the trie.
    fn object(&mut self, depth: usize, node: Option<usize>) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(Bad);
        }
        let node = node.filter(|&n| !self.trie.nodes[n].children.is_empty());
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            if self.next()? != b'"' {
                return Err(Bad);
            }
            let child = match node {
                Some(n) => self.key_of(n)?,
                None => {
                    self.skip_string()?;
                    None
                }
            };
            self.ws();
            if self.next()? != b':' {
                return Err(Bad);
            }
            self.ws();
            if let Some(c) = child {
                // a repeated key replaces everything its earlier value recorded
                let (first, end) = (self.trie.nodes[c].first, self.trie.nodes[c].end);
                for v in &mut self.vals[first..end] {
                    *v = Val::Missing;
                }
            }
            self.value(depth, child)?;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b'}' => return Ok(()),
                _ => return Err(Bad),
            }
        }
    }

    fn array(&mut self, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(Bad);
        }
        self.ws();
        if self.b.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.value(depth, None)?;
            self.ws();
            match self.next()? {
                b',' => self.ws(),
                b']' => return Ok(()),
                _ => return Err(Bad),
            }
        }
    }

    /// One value inside a container at `depth`; recorded if `node` has a slot.
    fn value(&mut self, depth: usize, node: Option<usize>) -> R<()> {
        let slot = node.and_then(|n| self.trie.nodes[n].slot);
        let v = match self.next()? {
            b'{' => {
                self.object(depth + 1, node)?;
                Val::Obj
            }
            b'[' => {
                self.array(depth + 1)?;
                Val::Arr
            }
            b'"' if slot.is_some() => Val::Str(self.string()?),
            b'"' => return self.skip_string(),
            b't' => self.literal(b"rue", Val::Bool(true))?,
            b'f' => self.literal(b"alse", Val::Bool(false))?,
            b'n' => self.literal(b"ull", Val::Null)?,
            b'-' | b'0'..=b'9' => {
                self.i -= 1;
                self.number()?
            }
            _ => return Err(Bad),
        };
        if let Some(s) = slot {
            self.vals[s] = v;
        }
        Ok(())
    }

    fn literal(&mut self, rest: &[u8], v: Val<'a>) -> R<Val<'a>> {
        if self.b[self.i..].starts_with(rest) {
            self.i += rest.len();
            Ok(v)
        } else {
            Err(Bad)
        }
    }

    #[inline]
    fn plain(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if STOP[c as usize] {
                break;
            }
            self.i += 1;
        }
    }

    fn skip_string(&mut self) -> R<()> {
        loop {
            self.plain();
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => {
                    self.escape(None)?;
                }
                _ => return Err(Bad), // a raw control character
            }
        }
    }

    /// A string whose `"` was read: borrowed from the document unless it has escapes.
    fn string(&mut self) -> R<Cow<'a, str>> {
        let start = self.i;
        self.plain();
        match self.next()? {
            b'"' => Ok(Cow::Borrowed(self.text(start, self.i - 1))),
            b'\\' => {
                let mut out = Vec::with_capacity(self.i - start + 16);
                out.extend_from_slice(&self.b[start..self.i - 1]);
                self.escape(Some(&mut out))?;
                self.rest_escaped(&mut out)?;
                // the document is UTF-8 and escapes decode to whole scalar values
                Ok(Cow::Owned(String::from_utf8(out).map_err(|_| Bad)?))
            }
            _ => Err(Bad),
        }
    }

    fn rest_escaped(&mut self, out: &mut Vec<u8>) -> R<()> {
        loop {
            let start = self.i;
            self.plain();
            out.extend_from_slice(&self.b[start..self.i]);
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => self.escape(Some(out))?,
                _ => return Err(Bad),
            }
        }
    }

    /// A key whose `"` was read, looked up among `node`'s children.
    fn key_of(&mut self, node: usize) -> R<Option<usize>> {
        let start = self.i;
        self.plain();
        match self.next()? {
            b'"' => Ok(self.trie.child(node, &self.b[start..self.i - 1])),
            b'\\' => {
                let mut key = std::mem::take(&mut self.key);
                key.clear();
                key.extend_from_slice(&self.b[start..self.i - 1]);
                let done = self
                    .escape(Some(&mut key))
                    .and_then(|_| self.rest_escaped(&mut key));
                let child = self.trie.child(node, &key);
                self.key = key;
                done.map(|_| child)
            }
            _ => Err(Bad),
        }
    }

    /// The UTF-8 text of `b[start..end]`, which lies between two ASCII quotes.
    fn text(&self, start: usize, end: usize) -> &'a str {
        // SAFETY: `read` checked that the whole document is UTF-8, and a slice that starts
        // after an ASCII byte and ends before one starts and ends on character boundaries.
        unsafe { std::str::from_utf8_unchecked(&self.b[start..end]) }
    }

    fn hex4(&mut self) -> R<u32> {
        let digits = self.b.get(self.i..self.i + 4).ok_or(Bad)?;
        let mut v = 0u32;
        for &c in digits {
            v = v * 16 + (c as char).to_digit(16).ok_or(Bad)?;
        }
        self.i += 4;
        Ok(v)
    }

    /// An escape whose `\` was read, decoded into `out` when given.
    fn escape(&mut self, out: Option<&mut Vec<u8>>) -> R<()> {
        let c = self.next()?;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        // a high surrogate must be followed by an escaped low one
                        if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                            return Err(Bad);
                        }
                        self.i += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(Bad);
                        }
                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(Bad),
                    _ => hi,
                };
                char::from_u32(code).ok_or(Bad)?
            }
            _ => return Err(Bad),
        };
        if let Some(out) = out {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
        Ok(())
    }

    /// A number at `self.i`, read as orjson reads it.
    fn number(&mut self) -> R<Val<'a>> {
        let start = self.i;
        let b = self.b;
        let negative = b[self.i] == b'-';
        if negative {
            self.i += 1;
        }
        let int_start = self.i;
        match b.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                while b.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
            }
            _ => return Err(Bad),
        }
        let int_end = self.i;
        let mut frac_end = int_end;
        if b.get(self.i) == Some(&b'.') {
            self.i += 1;
            let s = self.i;
            while b.get(self.i).is_some_and(u8::is_ascii_digit) {
                self.i += 1;
            }
            if self.i == s {
                return Err(Bad);
            }
            frac_end = self.i;
        }
        let mut exp: i64 = 0;
        let mut has_exp = false;
        if matches!(b.get(self.i), Some(b'e' | b'E')) {
            has_exp = true;
            self.i += 1;
            let exp_negative = match b.get(self.i) {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let s = self.i;
            while let Some(&c) = b.get(self.i).filter(|c| c.is_ascii_digit()) {
                exp = (exp * 10 + i64::from(c - b'0')).min(1 << 40);
                self.i += 1;
            }
            if self.i == s {
                return Err(Bad);
            }
            if exp_negative {
                exp = -exp;
            }
        }
        let text = self.text(start, self.i);
        if frac_end == int_end && !has_exp {
            return integer(&b[int_start..int_end], negative, text);
        }
        // Clinger's fast path: at most 19 significant digits below 2^53 and |e| <= 22 make
        // one exact multiplication or division, which IEEE rounds correctly
        let mut mantissa: u64 = 0;
        let mut significant = 0;
        for &c in b[int_start..int_end]
            .iter()
            .chain(&b[(int_end + 1).min(frac_end)..frac_end])
        {
            if significant > 0 || c != b'0' {
                significant += 1;
                if significant > 19 {
                    break;
                }
                mantissa = mantissa * 10 + u64::from(c - b'0');
            }
        }
        let frac_digits = frac_end.saturating_sub(int_end + 1) as i64;
        let e = exp - frac_digits;
        let x = if significant <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&e) {
            let m = mantissa as f64;
            let v = if e >= 0 {
                m * POW10[e as usize]
            } else {
                m / POW10[(-e) as usize]
            };
            if negative {
                -v
            } else {
                v
            }
        } else {
            text.parse::<f64>().map_err(|_| Bad)?
        };
        if x.is_infinite() {
            return Err(Bad);
        }
        Ok(Val::Float(x))
    }
}

/// An integer: i64 / u64 when it fits, else a double (orjson: beyond 64 bits, a float).
fn integer<'a>(digits: &[u8], negative: bool, text: &str) -> R<Val<'a>> {
    let mut v: u64 = 0;
    let mut fits = digits.len() <= 20;
    if fits {
        for &c in digits {
            match v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(c - b'0')))
            {
                Some(n) => v = n,
                None => {
                    fits = false;
                    break;
                }
            }
        }
    }
    if fits {
        if !negative {
            return Ok(if v <= i64::MAX as u64 {
                Val::Int(v as i64)
            } else {
                Val::UInt(v)
            });
        }
        if v <= 1 << 63 {
            return Ok(Val::Int((v as i128).wrapping_neg() as i64));
        }
    }
    let x = text.parse::<f64>().map_err(|_| Bad)?;
    if x.is_infinite() {
        return Err(Bad);
    }
    Ok(Val::Float(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&[&str]]) -> Vec<Vec<String>> {
        p.iter()
            .map(|k| k.iter().map(|s| s.to_string()).collect())
            .collect()
    }

    fn accepts(doc: &[u8]) -> bool {
        let (trie, _) = Trie::new(&paths(&[&["a"]]));
        Parser::new(&trie).read(doc).is_ok()
    }

    fn value_of(doc: &str) -> Val<'static> {
        let (trie, slots) = Trie::new(&paths(&[&["a"]]));
        let doc: &'static [u8] = Box::leak(doc.as_bytes().to_vec().into_boxed_slice());
        let mut p = Parser::new(&trie);
        p.read(doc).expect("a document");
        p.vals[slots[0]].clone()
    }

    /// What orjson 3.13 says of each (checked against it when the table was written).
    #[test]
    fn acceptance_matches_orjson() {
        let table: &[(&[u8], bool)] = &[
            (b"{}", true),
            (b" {} ", true),
            (b"{}\n", true),
            (b"\t\r\n{}", true),
            (b"{}\x0c", false),
            (b"{}\x00", false),
            (b"", false),
            (b"   ", false),
            (b"\xef\xbb\xbf{}", false),
            (b"{\"a\":1,}", false),
            (b"{\"a\":[1,]}", false),
            (b"{,}", false),
            (b"{\"a\" 1}", false),
            (b"{\"a\":01}", false),
            (b"{\"a\":-01}", false),
            (b"{\"a\":1.}", false),
            (b"{\"a\":.5}", false),
            (b"{\"a\":-}", false),
            (b"{\"a\":1e}", false),
            (b"{\"a\":1e+}", false),
            (b"{\"a\":+1}", false),
            (b"{\"a\":NaN}", false),
            (b"{\"a\":Infinity}", false),
            (b"{\"a\":-Infinity}", false),
            (b"{\"a\":1e999}", false),
            (b"{\"a\":-1e999}", false),
            (b"{\"b\":[1e309]}", false),
            (b"{\"a\":1.7976931348623158e308}", true),
            (b"{\"a\":1.7976931348623159e308}", false),
            (b"{\"a\":1e-400}", true),
            (b"{\"a\":0e99999999999999999999}", true),
            (b"{\"a\":nul}", false),
            (b"{\"a\":truex}", false),
            (b"{\"a\":true}x", false),
            (b"{\"a\":\"\\x\"}", false),
            (b"{\"a\":\"\\u00\"}", false),
            (b"{\"a\":\"\\ud800\"}", false),
            (b"{\"a\":\"\\udc00\"}", false),
            (b"{\"a\":\"\\ud800\\u0041\"}", false),
            (b"{\"b\":\"\\ud800\"}", false),
            (b"{\"\\ud800\":1}", false),
            (b"{\"a\":\"\\ud83d\\ude00\"}", true),
            (b"{\"a\":\"\\uD83D\\uDE00\"}", true),
            (b"{\"a\":\"\x7f\"}", true),
            (b"{\"a\":\"\x1f\"}", false),
            (b"{\"a\":\"a\x00b\"}", false),
            (b"{\"b\":\"\n\"}", false),
            (b"{\"a\":\"\xed\xa0\x80\"}", false),
            (b"{\"a\":\"\xf4\x90\x80\x80\"}", false),
            (b"{\"a\":\"\xc0\x80\"}", false),
            (b"{\"a\":\"\xff\"}", false),
            (b"{\"a\":1,\"a\":2}", true),
            (b"{\"a\"  :  1 }", true),
            (b"[]", false),
            (b"null", false),
            (b"\"s\"", false),
            (b"42", false),
            (b"{}{}", false),
            (b"{} {}", false),
        ];
        for (doc, want) in table {
            assert_eq!(accepts(doc), *want, "{}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn depth_limit_is_1024_containers() {
        for (depth, want) in [(1023, true), (1024, true), (1025, false)] {
            let arrays = format!(
                "{{\"b\":{}{}}}",
                "[".repeat(depth - 1),
                "]".repeat(depth - 1)
            );
            assert_eq!(accepts(arrays.as_bytes()), want, "arrays {depth}");
            let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
            assert_eq!(accepts(objects.as_bytes()), want, "objects {depth}");
        }
    }

    #[test]
    fn numbers_read_as_orjson_reads_them() {
        assert_eq!(
            value_of(r#"{"a":18446744073709551615}"#),
            Val::UInt(u64::MAX)
        );
        assert_eq!(
            value_of(r#"{"a":18446744073709551616}"#),
            Val::Float(1.8446744073709552e19)
        );
        assert_eq!(
            value_of(r#"{"a":-9223372036854775808}"#),
            Val::Int(i64::MIN)
        );
        assert_eq!(
            value_of(r#"{"a":-9223372036854775809}"#),
            Val::Float(-9.223372036854776e18)
        );
        assert_eq!(
            value_of(r#"{"a":-18446744073709551615}"#),
            Val::Float(-1.8446744073709552e19)
        );
        assert_eq!(value_of(r#"{"a":-0}"#), Val::Int(0));
        assert_eq!(value_of(r#"{"a":1E5}"#), Val::Float(1e5));
        assert_eq!(value_of(r#"{"a":0.1}"#), Val::Float(0.1));
        let Val::Float(z) = value_of(r#"{"a":-0.0}"#) else {
            panic!()
        };
        assert_eq!(z.to_bits(), (-0.0f64).to_bits());
        assert_eq!(
            value_of(r#"{"a":9007199254740993.0}"#),
            Val::Float(9007199254740992.0)
        );
        assert_eq!(
            value_of(r#"{"a":1.00000000000000011102230246251565404236316680908203125}"#),
            Val::Float(1.0)
        );
        assert_eq!(
            value_of(r#"{"a":2.4703282292062328e-324}"#),
            Val::Float(5e-324)
        );
    }

    #[test]
    fn strings_keys_and_duplicates() {
        assert_eq!(value_of(r#"{"a":"x\u00fc\n"}"#), Val::Str("xü\n".into()));
        assert_eq!(value_of(r#"{"\u0061":"k"}"#), Val::Str("k".into()));
        assert_eq!(value_of(r#"{"a":"first","a":{"x":1}}"#), Val::Obj);
        assert_eq!(value_of(r#"{"b":{"a":1}}"#), Val::Missing);
        let (trie, slots) = Trie::new(&paths(&[&["m", "x"], &["m", "y"]]));
        let mut p = Parser::new(&trie);
        p.read(br#"{"m":{"x":1,"y":2},"m":{"y":3}}"#).unwrap();
        assert_eq!(
            (&p.vals[slots[0]], &p.vals[slots[1]]),
            (&Val::Missing, &Val::Int(3))
        );
        p.read(br#"{"m":{"x":1},"m":5}"#).unwrap();
        assert_eq!(p.vals[slots[0]], Val::Missing);
    }
}
