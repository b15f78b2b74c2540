//! Signed records (`start`, `signature`, `gap`, `retention`, `dropped`): ordered
//! string fields and an Ed25519 signature over their encoding, written as a
//! JSON object `{"type": …, …, "sig": "<base64>"}` (a JSON line's
//! `_signature` member, a CSV row's `SIGNATURE` cell).

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::{ChainState, IntegrityError, IntegrityKeys, encode_fields};

/// What a signed record is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// The first record of a file.
    Start,
    /// A signature over the chain head.
    Signature,
    /// Sequence numbers skipped, declared.
    Gap,
    /// An archive deleted by retention, with its final state.
    Retention,
    /// Journal events the handler never received (the `drop-oldest`
    /// overflow policy dropped them before it read them): `journalFrom`,
    /// `journalTo` (inclusive journal sequences) and `count`, signed over
    /// the chain head after sealing those three fields as a link of the
    /// chain (see [`dropped_fields`](super::dropped_fields)), so a drop is
    /// part of the proof and cannot be taken out unnoticed.
    Dropped,
}

impl RecordKind {
    /// The `type` field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Start => "start",
            RecordKind::Signature => "signature",
            RecordKind::Gap => "gap",
            RecordKind::Retention => "retention",
            RecordKind::Dropped => "dropped",
        }
    }

    fn parse(text: &str) -> Option<RecordKind> {
        [RecordKind::Start, RecordKind::Signature, RecordKind::Gap, RecordKind::Retention, RecordKind::Dropped]
            .into_iter()
            .find(|k| k.as_str() == text)
    }
}

/// A signed record: `type`, `seq`, `head`, `time`, the kind's own fields,
/// and the signature.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedRecord {
    /// Its kind.
    pub kind: RecordKind,
    /// Every field but `sig`, in order (`type` first).
    pub fields: Vec<(String, String)>,
    /// Base64 Ed25519 signature over [`encode_fields`] of `fields`.
    pub sig: String,
}

impl SignedRecord {
    /// Signs a record of `kind` at chain state `state`, with `extra`
    /// fields.
    pub fn new(keys: &IntegrityKeys, kind: RecordKind, state: ChainState, extra: &[(&str, String)]) -> SignedRecord {
        let mut fields = vec![
            ("type".to_owned(), kind.as_str().to_owned()),
            ("seq".to_owned(), state.seq.to_string()),
            ("head".to_owned(), state.head_hex()),
            ("time".to_owned(), humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()),
        ];
        fields.extend(extra.iter().map(|(n, v)| ((*n).to_owned(), v.clone())));
        let sig = keys.sign(&encode_fields(&fields));
        SignedRecord { kind, fields, sig }
    }

    /// A field's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The chain state it names (`seq`, `head`).
    pub fn state(&self) -> Option<ChainState> {
        let seq = self.get("seq")?.parse().ok()?;
        let head = hex::decode(self.get("head")?).ok()?.try_into().ok()?;
        Some(ChainState { seq, head })
    }

    /// Whether the signature is valid under `keys`.
    pub fn verify(&self, keys: &IntegrityKeys) -> bool {
        keys.verify(&encode_fields(&self.fields), &self.sig)
    }

    /// The JSON object text.
    pub fn to_json(&self) -> String {
        // serde_json's map is sorted; write the members in order by hand.
        let mut out = String::from("{");
        for (name, value) in self.fields.iter().chain(std::iter::once(&("sig".to_owned(), self.sig.clone()))) {
            if out.len() > 1 {
                out.push(',');
            }
            out.push_str(&serde_json::Value::String(name.clone()).to_string());
            out.push(':');
            out.push_str(&serde_json::Value::String(value.clone()).to_string());
        }
        out.push('}');
        out
    }

    /// Parses [`to_json`](Self::to_json)'s text.
    pub fn from_json(text: &str) -> Result<SignedRecord, IntegrityError> {
        let members = members(text).map_err(|e| IntegrityError::Record(e.to_string()))?;
        let mut fields = Vec::with_capacity(members.len());
        let mut sig = None;
        for (name, raw) in members {
            let value: String = serde_json::from_str(raw.get()).map_err(|_| IntegrityError::Record(format!("`{name}` is not a string")))?;
            if name == "sig" {
                sig = Some(value);
            } else {
                fields.push((name, value));
            }
        }
        let kind = fields
            .first()
            .filter(|(n, _)| n == "type")
            .and_then(|(_, v)| RecordKind::parse(v))
            .ok_or_else(|| IntegrityError::Record("the first member must be `type` (start, signature, gap or retention)".into()))?;
        let sig = sig.ok_or_else(|| IntegrityError::Record("`sig` is missing".into()))?;
        Ok(SignedRecord { kind, fields, sig })
    }
}

/// The members of a JSON object, in the order written, each value as its
/// raw JSON text.
pub(crate) fn members(text: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    struct Members;
    impl<'de> Visitor<'de> for Members {
        type Value = Vec<(String, &'de RawValue)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((key, value)) = map.next_entry::<String, &'de RawValue>()? {
                out.push((key, value));
            }
            Ok(out)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let out = (&mut de).deserialize_map(Members)?;
    de.end()?;
    Ok(out)
}
