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
    /// per node and child: the key's JSON text is its bytes (no `"`, `\\` or control
    /// character that a document would have to escape)
    plain: Vec<Vec<bool>>,
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
        let plain = nodes
            .iter()
            .map(|n| {
                n.children
                    .iter()
                    .map(|(k, _)| !k.iter().any(|&c| c == b'"' || c == b'\\' || c < 0x20))
                    .collect()
            })
            .collect();
        let mut trie = Trie {
            nodes,
            slots: 0,
            plain,
        };
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

    /// The index among `node`'s children of the one named `key`, trying `guess` first.
    #[inline(always)]
    fn child(&self, node: usize, key: &[u8], guess: usize) -> Option<usize> {
        let children = &self.nodes[node].children;
        if let Some((k, _)) = children.get(guess) {
            if same(k, key) {
                return Some(guess);
            }
        }
        children.iter().position(|(k, _)| same(k, key))
    }
}

/// Byte equality without a call to `memcmp` for the short keys events have.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() > 16 {
        return a == b;
    }
    for k in 0..a.len() {
        if a[k] != b[k] {
            return false;
        }
    }
    true
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
///
/// The cursor is a local of each function (passed in, handed back), never a field: stores
/// into `vals` then cannot make the compiler reload it, which keeps the hot loops tight.
pub struct Parser<'a, 't> {
    trie: &'t Trie,
    pub vals: Vec<Val<'a>>,
    key: Vec<u8>,
    /// The order producers write keys in, learnt: per trie node, the index (among its
    /// parent's children) of the key that followed it last time, and the index of its own
    /// first key. With it a key is found in one comparison, whatever the order.
    next: Vec<u32>,
    first: Vec<u32>,
}

impl<'a, 't> Parser<'a, 't> {
    pub fn new(trie: &'t Trie) -> Self {
        Parser {
            trie,
            vals: vec![Val::Missing; trie.slots()],
            key: Vec::new(),
            next: vec![0; trie.nodes.len()],
            first: vec![0; trie.nodes.len()],
        }
    }

    /// Reads one document; Ok only if it is JSON (as orjson reads it) and an object.
    pub fn read(&mut self, doc: &'a [u8]) -> R<()> {
        if std::str::from_utf8(doc).is_err() {
            return Err(Bad);
        }
        for v in self.vals.iter_mut() {
            *v = Val::Missing;
        }
        let i = ws(doc, 0);
        if doc.get(i) != Some(&b'{') {
            return Err(Bad);
        }
        let i = self.object(doc, i + 1, 1, Some(0))?;
        if ws(doc, i) != doc.len() {
            return Err(Bad);
        }
        Ok(())
    }

    /// The members of an object whose `{` is before `i`; `node`: where it sits in the trie.
    /// Returns the index after its `}`.
    fn object(&mut self, b: &'a [u8], i: usize, depth: usize, node: Option<usize>) -> R<usize> {
        if depth > MAX_DEPTH {
            return Err(Bad);
        }
        let node = node.filter(|&n| !self.trie.nodes[n].children.is_empty());
        let mut i = ws(b, i);
        if b.get(i) == Some(&b'}') {
            return Ok(i + 1);
        }
        let mut prev: Option<usize> = None; // the last of this object's keys the trie knows
        loop {
            if b.get(i) != Some(&b'"') {
                return Err(Bad);
            }
            i += 1;
            let child = match node {
                Some(n) => {
                    let guess = match prev {
                        Some(p) => self.next[p],
                        None => self.first[n],
                    } as usize;
                    let found = match expected(self.trie, b, i, n, guess) {
                        Some(end) => {
                            i = end;
                            Some(guess)
                        }
                        None => {
                            let (k, end) = self.key_of(b, i, n, guess)?;
                            i = end;
                            k
                        }
                    };
                    found.map(|k| {
                        match prev {
                            Some(p) => self.next[p] = k as u32,
                            None => self.first[n] = k as u32,
                        }
                        let c = self.trie.nodes[n].children[k].1;
                        prev = Some(c);
                        c
                    })
                }
                None => {
                    i = skip_string(b, i)?;
                    None
                }
            };
            i = ws(b, i);
            if b.get(i) != Some(&b':') {
                return Err(Bad);
            }
            i = ws(b, i + 1);
            if let Some(c) = child {
                // a repeated key replaces everything its earlier value recorded
                let (first, end) = (self.trie.nodes[c].first, self.trie.nodes[c].end);
                for v in &mut self.vals[first..end] {
                    *v = Val::Missing;
                }
            }
            i = ws(b, self.value(b, i, depth, child)?);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                Some(b'}') => return Ok(i + 1),
                _ => return Err(Bad),
            }
        }
    }

    /// One value at `i` inside a container at `depth`; recorded if `node` has a slot.
    /// Inlined into the container loops: most values are scalars, only a container recurses.
    #[inline(always)]
    fn value(&mut self, b: &'a [u8], i: usize, depth: usize, node: Option<usize>) -> R<usize> {
        let slot = node.and_then(|n| self.trie.nodes[n].slot);
        let (v, end) = match *b.get(i).ok_or(Bad)? {
            c @ (b'{' | b'[') => self.container(b, i, c, depth, node)?,
            b'"' if slot.is_some() => {
                let (s, end) = string(b, i + 1)?;
                (Val::Str(s), end)
            }
            b'"' => return skip_string(b, i + 1),
            b't' => literal(b, i + 1, b"rue", Val::Bool(true))?,
            b'f' => literal(b, i + 1, b"alse", Val::Bool(false))?,
            b'n' => literal(b, i + 1, b"ull", Val::Null)?,
            b'-' | b'0'..=b'9' => number(b, i, slot.is_some())?,
            _ => return Err(Bad),
        };
        if let Some(s) = slot {
            self.vals[s] = v;
        }
        Ok(end)
    }

    /// A nested container at `i`: an object the trie descends into is read (recursion as
    /// deep as the longest field path), anything else only validated, without recursion.
    #[inline(never)]
    fn container(
        &mut self,
        b: &'a [u8],
        i: usize,
        open: u8,
        depth: usize,
        node: Option<usize>,
    ) -> R<(Val<'a>, usize)> {
        let descend = node.is_some_and(|n| !self.trie.nodes[n].children.is_empty());
        if open == b'{' && descend {
            Ok((Val::Obj, self.object(b, i + 1, depth + 1, node)?))
        } else {
            let end = skip_container(b, i, depth)?;
            Ok((if open == b'{' { Val::Obj } else { Val::Arr }, end))
        }
    }

    /// A key whose `"` is before `i`: its index among `node`'s children, if it is one of
    /// them, and the index after its closing quote.
    fn key_of(
        &mut self,
        b: &[u8],
        i: usize,
        node: usize,
        guess: usize,
    ) -> R<(Option<usize>, usize)> {
        let start = i;
        let i = plain(b, i);
        match b.get(i) {
            Some(b'"') => Ok((self.trie.child(node, &b[start..i], guess), i + 1)),
            Some(b'\\') => {
                let mut key = std::mem::take(&mut self.key);
                key.clear();
                key.extend_from_slice(&b[start..i]);
                let done =
                    escape(b, i + 1, Some(&mut key)).and_then(|i| rest_escaped(b, i, &mut key));
                let child = self.trie.child(node, &key, guess);
                self.key = key;
                done.map(|end| (child, end))
            }
            _ => Err(Bad),
        }
    }
}

/// Validates the container (object or array) that opens at `b[i]`, inside containers
/// `depth` deep, with an explicit stack rather than recursion (a document may nest 1024
/// levels wherever nobody reads); returns the index after it.
fn skip_container(b: &[u8], mut i: usize, depth: usize) -> R<usize> {
    let mut objects: Vec<bool> = Vec::new(); // the open containers: object (true) or array
    loop {
        // at the start of a value
        match *b.get(i).ok_or(Bad)? {
            c @ (b'{' | b'[') => {
                if depth + objects.len() + 1 > MAX_DEPTH {
                    return Err(Bad);
                }
                objects.push(c == b'{');
                i = ws(b, i + 1);
                let close = if c == b'{' { b'}' } else { b']' };
                if b.get(i) == Some(&close) {
                    objects.pop();
                    i += 1;
                } else {
                    if c == b'{' {
                        i = member_key(b, i)?;
                    }
                    continue; // its first value
                }
            }
            b'"' => i = skip_string(b, i + 1)?,
            b't' => i = literal(b, i + 1, b"rue", Val::Null)?.1,
            b'f' => i = literal(b, i + 1, b"alse", Val::Null)?.1,
            b'n' => i = literal(b, i + 1, b"ull", Val::Null)?.1,
            b'-' | b'0'..=b'9' => i = number(b, i, false)?.1,
            _ => return Err(Bad),
        }
        // after a value: the next one in its container, or the containers it closes
        loop {
            let Some(&object) = objects.last() else {
                return Ok(i);
            };
            i = ws(b, i);
            match b.get(i) {
                Some(b',') => {
                    i = ws(b, i + 1);
                    if object {
                        i = member_key(b, i)?;
                    }
                    break;
                }
                Some(b'}') if object => {
                    objects.pop();
                    i += 1;
                }
                Some(b']') if !object => {
                    objects.pop();
                    i += 1;
                }
                _ => return Err(Bad),
            }
        }
    }
}

/// A member's key and colon at `i` (in an object nobody reads); the index of its value.
fn member_key(b: &[u8], i: usize) -> R<usize> {
    if b.get(i) != Some(&b'"') {
        return Err(Bad);
    }
    let i = ws(b, skip_string(b, i + 1)?);
    if b.get(i) != Some(&b':') {
        return Err(Bad);
    }
    Ok(ws(b, i + 1))
}

#[inline(always)]
fn ws(b: &[u8], mut i: usize) -> usize {
    while let Some(&c) = b.get(i) {
        if c > b' ' || !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
            break;
        }
        i += 1;
    }
    i
}

fn literal<'a>(b: &[u8], i: usize, rest: &[u8], v: Val<'a>) -> R<(Val<'a>, usize)> {
    if b[i..].starts_with(rest) {
        Ok((v, i + rest.len()))
    } else {
        Err(Bad)
    }
}

/// The end of the plain string content at `i`: the next `"`, `\\` or control character,
/// found 8 bytes at a time (the last few bytes of a document byte by byte).
#[inline(always)]
fn plain(b: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // a byte that is '"', '\\' or below 0x20: the lowest flag is exact (a borrow only
        // runs upwards)
        let stop = zero(w ^ (ONES * 0x22)) | zero(w ^ (ONES * 0x5C)) | zero(w & (ONES * 0xE0));
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if STOP[c as usize] {
            break;
        }
        i += 1;
    }
    i
}

/// A string whose `"` is before `i`, validated; the index after its closing quote.
#[inline(always)]
fn skip_string(b: &[u8], mut i: usize) -> R<usize> {
    loop {
        i = plain(b, i);
        match b.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i = escape(b, i + 1, None)?,
            _ => return Err(Bad), // a raw control character, or the end
        }
    }
}

/// A string whose `"` is before `i`: borrowed from the document unless it has escapes.
#[inline(always)]
fn string(b: &[u8], i: usize) -> R<(Cow<'_, str>, usize)> {
    let start = i;
    let i = plain(b, i);
    match b.get(i) {
        Some(b'"') => Ok((Cow::Borrowed(text(b, start, i)), i + 1)),
        Some(b'\\') => {
            let mut out = Vec::with_capacity(i - start + 16);
            out.extend_from_slice(&b[start..i]);
            let end =
                escape(b, i + 1, Some(&mut out)).and_then(|i| rest_escaped(b, i, &mut out))?;
            // the document is UTF-8 and escapes decode to whole scalar values
            Ok((Cow::Owned(String::from_utf8(out).map_err(|_| Bad)?), end))
        }
        _ => Err(Bad),
    }
}

/// The rest of a string after an escape, decoded into `out`; the index after its quote.
fn rest_escaped(b: &[u8], mut i: usize, out: &mut Vec<u8>) -> R<usize> {
    loop {
        let start = i;
        i = plain(b, i);
        out.extend_from_slice(&b[start..i]);
        match b.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(b'\\') => i = escape(b, i + 1, Some(out))?,
            _ => return Err(Bad),
        }
    }
}

/// The end of the expected key (`guess`) if the document has it at `i`, written plainly:
/// its bytes and the closing quote, compared in place — no scan for the end of the string.
/// A key written otherwise (escaped, or another key) is read by `key_of`.
#[inline(always)]
fn expected(trie: &Trie, b: &[u8], i: usize, node: usize, guess: usize) -> Option<usize> {
    let (k, _) = trie.nodes[node].children.get(guess)?;
    let end = i + k.len();
    if !trie.plain[node][guess] || b.get(end) != Some(&b'"') || !same(&b[i..end], k) {
        return None;
    }
    Some(end + 1)
}

/// The UTF-8 text of `b[start..end]`, which lies between two ASCII quotes.
#[inline(always)]
fn text(b: &[u8], start: usize, end: usize) -> &str {
    // SAFETY: `Parser::read` checked that the whole document is UTF-8, and a slice that
    // starts after an ASCII byte and ends before one starts and ends on character boundaries.
    unsafe { std::str::from_utf8_unchecked(&b[start..end]) }
}

fn hex4(b: &[u8], i: usize) -> R<u32> {
    let digits = b.get(i..i + 4).ok_or(Bad)?;
    let mut v = 0u32;
    for &c in digits {
        v = v * 16 + (c as char).to_digit(16).ok_or(Bad)?;
    }
    Ok(v)
}

/// An escape whose `\` is before `i`, decoded into `out` when given; the index after it.
fn escape(b: &[u8], i: usize, out: Option<&mut Vec<u8>>) -> R<usize> {
    let mut end = i + 1;
    let ch = match *b.get(i).ok_or(Bad)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let hi = hex4(b, i + 1)?;
            end = i + 5;
            let code = match hi {
                0xD800..=0xDBFF => {
                    // a high surrogate must be followed by an escaped low one
                    if b.get(end..end + 2) != Some(b"\\u") {
                        return Err(Bad);
                    }
                    let lo = hex4(b, end + 2)?;
                    end += 6;
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
    Ok(end)
}

/// A number at `i`, read as orjson reads it, and the index after it; its value only if
/// `want`ed (one that nobody reads is only checked: it must not overflow a double).
#[inline(always)]
fn number<'a>(b: &[u8], start: usize, want: bool) -> R<(Val<'a>, usize)> {
    let mut i = start;
    let negative = b[i] == b'-';
    i += negative as usize;
    // every digit of the integer and the fraction into one u64: exact while there are at
    // most 19 of them (leading zeros included, they add nothing)
    let mut mantissa: u64 = 0;
    let int_start = i;
    while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d < 10) {
        mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    let int_end = i;
    if int_end == int_start || (b[int_start] == b'0' && int_end - int_start > 1) {
        return Err(Bad); // no digit, or a leading zero
    }
    let mut frac_digits = 0usize;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let s = i;
        while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d < 10) {
            mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
            i += 1;
        }
        frac_digits = i - s;
        if frac_digits == 0 {
            return Err(Bad);
        }
    }
    let mut exp: i64 = 0;
    let mut has_exp = false;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        has_exp = true;
        i += 1;
        let exp_negative = b.get(i) == Some(&b'-');
        i += matches!(b.get(i), Some(b'-' | b'+')) as usize;
        let s = i;
        while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|d| *d < 10) {
            exp = (exp * 10 + i64::from(d)).min(1 << 40);
            i += 1;
        }
        if i == s {
            return Err(Bad);
        }
        if exp_negative {
            exp = -exp;
        }
    }
    let text = text(b, start, i);
    if frac_digits == 0 && !has_exp {
        return Ok((integer(&b[int_start..int_end], negative, text)?, i));
    }
    // Clinger's fast path: at most 19 digits, below 2^53, |e| <= 22 make one exact
    // multiplication or division, which IEEE rounds correctly (and nothing overflows, so the
    // quotient is off the critical path)
    let e = exp - frac_digits as i64;
    let digits = int_end - int_start + frac_digits;
    if digits <= 19 && mantissa <= 1 << 53 && (-22..=22).contains(&e) {
        if !want {
            return Ok((Val::Missing, i));
        }
        let m = mantissa as f64;
        let v = if e >= 0 {
            m * POW10[e as usize]
        } else {
            m / POW10[(-e) as usize]
        };
        return Ok((Val::Float(if negative { -v } else { v }), i));
    }
    let x = text.parse::<f64>().map_err(|_| Bad)?;
    if x.is_infinite() {
        return Err(Bad);
    }
    Ok((Val::Float(x), i))
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
