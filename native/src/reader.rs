//! The decoder contract (docs/events.md, `driftline/decode/contract.py`) over a batch of
//! messages: each line is either accepted whole — its values appended to the columns — or
//! rejected, and the Python decoder gives a rejected line its reason and detail. So the
//! order of the checks does not matter here, only that a line is accepted exactly when
//! `Contract.read` returns an event, with the same values.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::canonical::repr_f64;
use crate::json::{Parser, Trie, Val};
use crate::timestamp::{at_or_after, parse_epoch, parse_rfc3339};

/// What the reader needs to know of the deployment: field paths, the schema, the settings.
#[derive(Debug, Clone)]
pub struct Spec {
    /// (field name, keys) for the contract's fields (`FieldNames.path`)
    pub fields: Vec<(String, Vec<String>)>,
    pub numeric: Vec<String>,
    pub categorical: Vec<String>,
    pub segments: Vec<String>,
    /// read (and check) event_id and label (`Schema.labels`)
    pub labels: bool,
    /// return them too (one float, two string columns at the end); off, a reader built by
    /// an older Python caller keeps the columns it expects
    pub label_columns: bool,
    /// the one model of a single-model stream: the model_id field is not read
    pub model_id: Option<String>,
    pub floor: f64,
    pub max_message_bytes: usize,
}

/// The contract's field names (`FieldNames`'s defaults), in the order `Spec.fields` lists them.
pub const FIELD_NAMES: [&str; 10] = [
    "event_id",
    "model_id",
    "model_version",
    "timestamp",
    "features",
    "prediction",
    "decision",
    "segments",
    "latency_ms",
    "label",
];

impl Spec {
    /// Every contract field at its default top-level key (Python passes the configured paths;
    /// tests and the bench example read events with the default names).
    pub fn top_level_fields() -> Vec<(String, Vec<String>)> {
        FIELD_NAMES
            .iter()
            .map(|n| (n.to_string(), vec![n.to_string()]))
            .collect()
    }
}

/// The slots of the contract's fields in the parser's values.
#[derive(Debug)]
struct Slots {
    model: Option<usize>,
    version: usize,
    timestamp: usize,
    features: usize,
    prediction: usize,
    decision: usize,
    latency: usize,
    segments: usize,
    event_id: Option<usize>,
    label: Option<usize>,
    numeric: Vec<usize>,
    categorical: Vec<usize>,
    segment_values: Vec<usize>,
}

/// Up to this many distinct values a column is searched in place, past it through a map.
const SMALL: usize = 8;

/// A string column as a dictionary: distinct texts in order of first appearance, and one
/// index per row (-1: None). Vocabulary codes are the Python decoder's business.
#[derive(Debug, Default)]
pub struct DictColumn {
    pub uniques: Vec<Box<str>>,
    pub indices: Vec<i32>,
    map: HashMap<Box<str>, i32, foldhash::fast::RandomState>,
    last: i32,
}

impl DictColumn {
    fn push(&mut self, text: Option<&str>) {
        let Some(text) = text else {
            self.indices.push(-1);
            return;
        };
        // a column mostly repeats its last value (one model, one version): no hashing then
        if self.last >= 0 && *self.uniques[self.last as usize] == *text {
            self.indices.push(self.last);
            return;
        }
        // a few distinct values (a category, a segment): compared in place, no hashing
        let found = if self.uniques.len() <= SMALL {
            self.uniques
                .iter()
                .position(|u| **u == *text)
                .map(|c| c as i32)
        } else {
            self.map.get(text).copied()
        };
        let code = match found {
            Some(code) => code,
            None => {
                let code = self.uniques.len() as i32;
                self.uniques.push(text.into());
                if self.uniques.len() > SMALL {
                    if self.map.is_empty() {
                        let all = self.uniques.iter().enumerate();
                        self.map.extend(all.map(|(c, u)| (u.clone(), c as i32)));
                    } else {
                        self.map.insert(text.into(), code);
                    }
                }
                code
            }
        };
        self.last = code;
        self.indices.push(code);
    }
}

/// One decoded batch: accepted line indices, rejected ones, float and string columns.
///
/// Floats: timestamp, prediction, latency, then the numeric features in schema order.
/// Strings: model, version, decision, then the categorical features, then the segments.
#[derive(Debug, Default)]
pub struct Decoded {
    pub rows: Vec<i64>,
    pub rejected: Vec<i64>,
    pub floats: Vec<Vec<f64>>,
    pub strings: Vec<DictColumn>,
    /// with label columns: each accepted event's id as its 64-bit key (`keys.py`), 0: none
    pub keys: Vec<i64>,
}

/// The reader for one deployment; `decode` is pure and may run without the GIL.
#[derive(Debug)]
pub struct Reader {
    trie: Trie,
    slots: Slots,
    spec: Spec,
}

/// One accepted line's values, before they are appended (a line is all or nothing).
struct Line<'a> {
    floats: Vec<f64>,
    strings: Vec<Option<Cow<'a, str>>>,
    key: i64,
}

/// An event id's key, as `keys.id_key` computes it: BLAKE2b with an 8-byte digest of the
/// id's UTF-8 text, read as a little-endian signed integer; 0 (kept for "no id") becomes 1.
/// Hashed here, the ids never become Python strings: one int64 column instead.
pub fn id_key(text: &str) -> i64 {
    use blake2::digest::{Update, VariableOutput};
    let mut hasher = blake2::Blake2bVar::new(8).expect("8 is a valid BLAKE2b digest size");
    hasher.update(text.as_bytes());
    let mut digest = [0u8; 8];
    hasher
        .finalize_variable(&mut digest)
        .expect("the buffer is the digest size");
    match i64::from_le_bytes(digest) {
        0 => 1,
        k => k,
    }
}

fn path_of<'s>(spec: &'s Spec, name: &str) -> &'s [String] {
    spec.fields
        .iter()
        .find(|(n, _)| n == name)
        .map_or(&[], |(_, p)| p.as_slice())
}

impl Reader {
    pub fn new(spec: Spec) -> Result<Reader, String> {
        let mut paths: Vec<Vec<String>> = Vec::new();
        let mut add = |path: Vec<String>| {
            paths.push(path);
            paths.len() - 1
        };
        let field = |name: &str| -> Result<Vec<String>, String> {
            let p = path_of(&spec, name);
            if p.is_empty() || p.iter().any(String::is_empty) {
                return Err(format!("field {name}: no path"));
            }
            Ok(p.to_vec())
        };
        let under = |base: &[String], key: &str| {
            let mut p = base.to_vec();
            p.push(key.to_string());
            p
        };
        let model = match spec.model_id {
            Some(_) => None,
            None => Some(add(field("model_id")?)),
        };
        let (features, segments) = (field("features")?, field("segments")?);
        let idx = Slots {
            model,
            version: add(field("model_version")?),
            timestamp: add(field("timestamp")?),
            features: add(features.clone()),
            prediction: add(field("prediction")?),
            decision: add(field("decision")?),
            latency: add(field("latency_ms")?),
            segments: add(segments.clone()),
            event_id: if spec.labels {
                Some(add(field("event_id")?))
            } else {
                None
            },
            label: if spec.labels {
                Some(add(field("label")?))
            } else {
                None
            },
            numeric: spec
                .numeric
                .iter()
                .map(|k| add(under(&features, k)))
                .collect(),
            categorical: spec
                .categorical
                .iter()
                .map(|k| add(under(&features, k)))
                .collect(),
            segment_values: spec
                .segments
                .iter()
                .map(|k| add(under(&segments, k)))
                .collect(),
        };
        let (trie, slot) = Trie::new(&paths);
        let s = |i: usize| slot[i];
        let slots = Slots {
            model: idx.model.map(s),
            version: s(idx.version),
            timestamp: s(idx.timestamp),
            features: s(idx.features),
            prediction: s(idx.prediction),
            decision: s(idx.decision),
            latency: s(idx.latency),
            segments: s(idx.segments),
            event_id: idx.event_id.map(s),
            label: idx.label.map(s),
            numeric: idx.numeric.iter().map(|&i| s(i)).collect(),
            categorical: idx.categorical.iter().map(|&i| s(i)).collect(),
            segment_values: idx.segment_values.iter().map(|&i| s(i)).collect(),
        };
        Ok(Reader { trie, slots, spec })
    }

    /// Every message accepted (values in the columns) or rejected (its index listed).
    pub fn decode(&self, messages: &[&[u8]]) -> Decoded {
        // with labels: one float more (a numeric label's value), one string (the label) and
        // the id's key
        let labels = (self.spec.labels && self.spec.label_columns) as usize;
        let n_floats = 3 + self.spec.numeric.len() + labels;
        let n_strings = 3 + self.spec.categorical.len() + self.spec.segments.len() + labels;
        let mut out = Decoded {
            rows: Vec::with_capacity(messages.len()),
            rejected: Vec::new(),
            floats: (0..n_floats)
                .map(|_| Vec::with_capacity(messages.len()))
                .collect(),
            strings: (0..n_strings)
                .map(|_| DictColumn {
                    indices: Vec::with_capacity(messages.len()),
                    last: -1,
                    ..DictColumn::default()
                })
                .collect(),
            keys: Vec::with_capacity(if labels == 1 { messages.len() } else { 0 }),
        };
        let mut parser = Parser::new(&self.trie);
        let mut line = Line {
            floats: Vec::with_capacity(n_floats),
            strings: Vec::with_capacity(n_strings),
            key: 0,
        };
        for (i, raw) in messages.iter().enumerate() {
            let ok = raw.len() <= self.spec.max_message_bytes
                && parser.read(raw).is_ok()
                && self.event(&parser.vals, &mut line).is_some();
            if !ok {
                out.rejected.push(i as i64);
                continue;
            }
            out.rows.push(i as i64);
            for (col, x) in out.floats.iter_mut().zip(&line.floats) {
                col.push(*x);
            }
            for (col, text) in out.strings.iter_mut().zip(&line.strings) {
                col.push(text.as_deref());
            }
            if labels == 1 {
                out.keys.push(line.key);
            }
            if let Some(model) = &self.spec.model_id {
                let col = &mut out.strings[0];
                col.indices.pop();
                col.push(Some(model));
            }
        }
        out
    }

    /// The event's values into `line`, or None if `Contract.read` would not return one.
    fn event<'a>(&self, vals: &[Val<'a>], line: &mut Line<'a>) -> Option<()> {
        let s = &self.slots;
        line.floats.clear();
        line.strings.clear();
        let model = match s.model {
            None => None, // the one model: `decode` writes it
            Some(slot) => match &vals[slot] {
                Val::Str(m) => Some(m.clone()),
                _ => return None, // missing, null or not a string
            },
        };
        let ts = match &vals[s.timestamp] {
            Val::Str(t) => parse_rfc3339(t.as_bytes()),
            v => parse_epoch(v.number()?),
        };
        let ts = at_or_after(ts, self.spec.floor)?;
        let prediction = vals[s.prediction].number()?;
        if vals[s.features] != Val::Obj {
            return None;
        }
        let version = match &vals[s.version] {
            v if v.is_absent() => None,
            Val::Str(v) => Some(v.clone()),
            _ => return None,
        };
        let decision = canonical(&vals[s.decision])?;
        let latency = optional_number(&vals[s.latency])?;
        if !(vals[s.segments].is_absent() || vals[s.segments] == Val::Obj) {
            return None;
        }
        let mut label_texts = [None, None];
        for (text, slot) in label_texts.iter_mut().zip([s.event_id, s.label]) {
            if let Some(slot) = slot {
                *text = Some(canonical(&vals[slot])?);
            }
        }
        line.floats.extend([ts, prediction, latency]);
        for &slot in &s.numeric {
            line.floats.push(optional_number(&vals[slot])?);
        }
        if let (Some(slot), true) = (s.label, self.spec.label_columns) {
            // a number's value (regression), NaN for any other label (`Contract.read`)
            line.floats.push(vals[slot].number().unwrap_or(f64::NAN));
        }
        if line.floats[1..].iter().any(|x| x.is_infinite()) || !prediction.is_finite() {
            return None; // unreachable for JSON orjson accepts, kept as the contract has it
        }
        line.strings.extend([model, version, decision]);
        for &slot in s.categorical.iter().chain(&s.segment_values) {
            line.strings.push(canonical(&vals[slot])?);
        }
        if self.spec.label_columns {
            let [id, label] = label_texts;
            line.key = id.flatten().map_or(0, |t| id_key(&t));
            line.strings.push(label.flatten());
        }
        Some(())
    }
}

/// A number, NaN when absent; None (reject) for anything else.
fn optional_number(v: &Val<'_>) -> Option<f64> {
    if v.is_absent() {
        Some(f64::NAN)
    } else {
        v.number()
    }
}

/// The canonical text of a scalar (`canonical.py`), Some(None) when absent; None (reject)
/// for an object or an array.
fn canonical<'a>(v: &Val<'a>) -> Option<Option<Cow<'a, str>>> {
    Some(Some(match v {
        Val::Missing | Val::Null => return Some(None),
        Val::Str(s) => s.clone(),
        Val::Bool(true) => Cow::Borrowed("true"),
        Val::Bool(false) => Cow::Borrowed("false"),
        Val::Int(i) => Cow::Owned(i.to_string()),
        Val::UInt(u) => Cow::Owned(u.to_string()),
        Val::Float(x) => {
            let mut s = String::with_capacity(24);
            repr_f64(*x, &mut s);
            Cow::Owned(s)
        }
        Val::Obj | Val::Arr => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(labels: bool) -> Spec {
        Spec {
            fields: Spec::top_level_fields(),
            numeric: vec!["x".into()],
            categorical: vec!["color".into()],
            segments: vec!["region".into()],
            labels,
            label_columns: labels,
            model_id: None,
            floor: 946_684_800.0,
            max_message_bytes: 65536,
        }
    }

    #[test]
    fn accepts_an_event_and_reads_its_values() {
        let r = Reader::new(spec(true)).unwrap();
        let good: &[u8] = br#"{"model_id":"m","timestamp":"2026-02-13T06:00:00.25Z","features":{"x":1,"color":2.0},"prediction":0.5,"decision":true,"segments":{"region":1e16},"label":[1]}"#;
        let ok: &[u8] =
            br#"{"model_id":"m","timestamp":1770962400000,"features":{"x":null},"prediction":-0}"#;
        let d = r.decode(&[good, ok, b"{}"]);
        assert_eq!((d.rows.clone(), d.rejected.clone()), (vec![1], vec![0, 2]));
        assert_eq!(d.floats[0], vec![1770962400.0]);
        assert!(d.floats[3][0].is_nan());
        let r = Reader::new(spec(false)).unwrap();
        let d = r.decode(&[good, ok]);
        assert_eq!(d.rows, vec![0, 1]);
        assert_eq!(d.floats[0][0], 1770962400.25);
        let texts: Vec<Option<&str>> = d
            .strings
            .iter()
            .map(|c| (c.indices[0] >= 0).then(|| &*c.uniques[c.indices[0] as usize]))
            .collect();
        assert_eq!(
            texts,
            vec![Some("m"), None, Some("true"), Some("2.0"), Some("1e+16")]
        );
    }

    #[test]
    fn returns_the_event_id_and_the_label_when_labels_are_on() {
        let r = Reader::new(spec(true)).unwrap();
        let line: &[u8] = br#"{"model_id":"m","timestamp":1770962400,"features":{"x":1},"prediction":0.5,"event_id":7,"label":2.5}"#;
        let text: &[u8] = br#"{"model_id":"m","timestamp":1770962400,"features":{},"prediction":0.5,"label":"yes"}"#;
        let d = r.decode(&[line, text]);
        assert_eq!(d.rows, vec![0, 1]);
        assert_eq!(d.floats.len(), 5);
        assert_eq!(d.floats[4][0], 2.5);
        assert!(d.floats[4][1].is_nan());
        let at = |c: &DictColumn, i: usize| {
            (c.indices[i] >= 0).then(|| c.uniques[c.indices[i] as usize].to_string())
        };
        assert_eq!(d.strings.len(), 6);
        assert_eq!(d.keys, vec![id_key("7"), 0]);
        assert_eq!(at(&d.strings[5], 0).as_deref(), Some("2.5"));
        assert_eq!(at(&d.strings[5], 1).as_deref(), Some("yes"));
    }

    #[test]
    fn an_id_key_is_pythons_blake2b_of_eight_bytes() {
        // hashlib.blake2b(t.encode(), digest_size=8).digest() read little-endian, signed:
        // the values keys.id_key gives (tests/unit/decode check the two paths agree)
        assert_eq!(id_key("e1"), 0x040f_4ff5_515e_5d1b_u64 as i64);
        assert_eq!(id_key(""), 0xb4b2_7974_57a0_a6e4_u64 as i64);
    }
}
