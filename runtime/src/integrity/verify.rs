//! The verifier behind `wasp verify`: walks the files of one output in
//! order (archives oldest first, then the live file), checking every data
//! record's sequence number and MAC, every signed record's signature and
//! chain state, and how each file links to the one before it.

use super::{Chain, ChainState, IntegrityKeys, RecordKind, SignedRecord};

/// One record of a file, as the file format parsed it.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A data record: the sealed fields (name, value bytes), its sequence
    /// number and MAC.
    Data {
        /// Sequence number.
        seq: u64,
        /// Its MAC.
        mac: [u8; 32],
        /// The fields the MAC covers.
        fields: Vec<(String, Vec<u8>)>,
    },
    /// A signed record.
    Signed(SignedRecord),
}

/// Checks the files of one output, in order.
#[derive(Debug)]
pub struct Verifier<'k> {
    keys: &'k IntegrityKeys,
    chain: Option<Chain>,
    /// The file before the current one (as named on disk).
    previous_file: Option<String>,
    /// Whether the current file has had its `start` record.
    started: bool,
    /// Whether the last record was signed over the current state.
    sealed: bool,
    /// The `reason` of the last record, when it is a signature.
    last_reason: Option<String>,
    /// The previous file failed: take the next file's start as it is.
    resync: bool,
    /// The first file's claim: the file before it and the state it
    /// continues from (checked against retention records at the end).
    first_claim: Option<(String, String, ChainState)>,
    /// Archives deleted by retention, with their final states.
    retention: Vec<(String, ChainState)>,
    /// Data records checked in the current file.
    pub records: u64,
    /// Declared gaps in the current file, for the report.
    notes: Vec<String>,
}

/// Why a file of a tamper-evident output does not verify: what was
/// changed, removed, added or cut, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBroken {
    /// The file has no record at all.
    #[error("the file is empty: it has no start record")]
    Empty,
    /// The first record is not a signed record.
    #[error("the file does not begin with a signed `start` record")]
    NoStart,
    /// The first record is signed but of another kind.
    #[error("the file begins with a `{0}` record, not `start`")]
    NotStart(&'static str),
    /// The start record's signature does not verify.
    #[error("the start record's signature is not valid (changed or forged)")]
    StartSignature,
    /// A record lacks what its kind must carry (the text says what).
    #[error("{0}")]
    Malformed(&'static str),
    /// Records are missing between two sequence numbers.
    #[error("sequence jumps from {from} to {to} with no signed gap record (records were removed)")]
    Jump {
        /// The last sequence seen.
        from: u64,
        /// The next one found.
        to: u64,
    },
    /// A sequence number repeats or goes back.
    #[error("sequence goes back from {from} to {to} (records were reordered or inserted)")]
    Back {
        /// The last sequence seen.
        from: u64,
        /// The next one found.
        to: u64,
    },
    /// A record's MAC is not the chain's.
    #[error("record {0}: the MAC does not match (the record was changed, or does not belong here)")]
    Mac(u64),
    /// A signed record's signature does not verify.
    #[error("the {0} record's signature is not valid (the record was changed or forged)")]
    Signature(&'static str),
    /// A gap record that does not continue the chain.
    #[error("a gap record for {from}..={to} where the chain is at {at} (records were removed around it)")]
    Gap {
        /// The first sequence it declares lost.
        from: u64,
        /// The last.
        to: u64,
        /// Where the chain is.
        at: u64,
    },
    /// A dropped record that does not continue the chain.
    #[error(
        "the dropped record for journal events {from}..={to} does not continue the chain at record {at} (records around it were changed, removed or added)"
    )]
    Dropped {
        /// The first journal sequence it declares dropped.
        from: u64,
        /// The last.
        to: u64,
        /// Where the chain is.
        at: u64,
    },
    /// A signature or retention record over another chain state.
    #[error(
        "the {kind} record signs the chain at record {signs} but the records before it end at {ends} with another head (records before it were changed, removed or added)"
    )]
    Unchained {
        /// The record's kind.
        kind: &'static str,
        /// The sequence it signs.
        signs: u64,
        /// Where the records before it end.
        ends: u64,
    },
    /// The file names another predecessor than the file before it.
    #[error("this file follows `{previous}`, but the file before it here is `{before}` (files were removed, renamed or swapped)")]
    Follows {
        /// The predecessor the file names.
        previous: String,
        /// The file before it here.
        before: String,
    },
    /// The file continues from another record than its predecessor ends at.
    #[error("this file continues from record {from} but `{before}` ends at record {ends} (the files do not link)")]
    Unlinked {
        /// Where the file says it continues from.
        from: u64,
        /// The file before it.
        before: String,
        /// Where that one ends.
        ends: u64,
    },
    /// The first file names no predecessor yet does not start the chain.
    #[error("the first file claims no predecessor but does not start the chain")]
    FirstNotGenesis,
    /// The live file lacks its `close` signature.
    #[error(
        "the file ends at record {0} without the `close` signature (its tail was cut, or the output is still running or crashed: use --open)"
    )]
    NoClose(u64),
    /// The first file's predecessor was deleted by retention at another
    /// chain state than the file continues from.
    #[error("`{0}` was deleted by retention, but at another chain state than this file continues from")]
    RetainedElsewhere(String),
    /// The first file's predecessor is gone and no retention record says so.
    #[error("the file before this one, `{0}`, is missing and no retention record accounts for it (an archive was removed)")]
    PredecessorMissing(String),
    /// An archive lacks its `rotate` signature.
    #[error("the archive ends at record {0} without its `rotate` signature (its tail was cut)")]
    NoRotate(u64),
}

impl<'k> Verifier<'k> {
    /// A verifier under `keys`.
    pub fn new(keys: &'k IntegrityKeys) -> Verifier<'k> {
        Verifier {
            keys,
            chain: None,
            previous_file: None,
            started: false,
            sealed: false,
            last_reason: None,
            resync: false,
            first_claim: None,
            retention: Vec::new(),
            records: 0,
            notes: Vec::new(),
        }
    }

    /// Where the chain stands (`None` before the first `start` record).
    pub fn state(&self) -> Option<ChainState> {
        self.chain.as_ref().map(Chain::state)
    }

    /// Starts the next file.
    pub fn begin_file(&mut self) {
        self.started = false;
        self.sealed = false;
        self.last_reason = None;
        self.records = 0;
        self.notes.clear();
    }

    /// The current file failed outside the verifier (a line that does not
    /// parse): the next file's start is taken as it is.
    pub fn fail(&mut self) {
        self.resync = true;
    }

    /// Checks the next record of the current file; `Err` says why it is
    /// bad (the file fails there).
    pub fn entry(&mut self, name: &str, entry: Entry) -> Result<(), ChainBroken> {
        let result = self.check(name, entry);
        if result.is_err() {
            self.resync = true;
        }
        result
    }

    fn check(&mut self, name: &str, entry: Entry) -> Result<(), ChainBroken> {
        if !self.started {
            let Entry::Signed(start) = &entry else {
                return Err(ChainBroken::NoStart);
            };
            return self.start(name, start);
        }
        let chain = self.chain.as_mut().expect("set by start");
        match entry {
            Entry::Data { seq, mac, fields } => {
                let expected = chain.state().seq + 1;
                if seq > expected {
                    return Err(ChainBroken::Jump { from: expected - 1, to: seq });
                }
                if seq < expected {
                    return Err(ChainBroken::Back { from: expected - 1, to: seq });
                }
                let borrowed: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
                if chain.mac(seq, &borrowed) != mac {
                    return Err(ChainBroken::Mac(seq));
                }
                chain.seal(&borrowed);
                self.sealed = false;
                self.last_reason = None;
                self.records += 1;
                Ok(())
            }
            Entry::Signed(record) => {
                if !record.verify(self.keys) {
                    return Err(ChainBroken::Signature(record.kind.as_str()));
                }
                let stated = record.state().ok_or(ChainBroken::Malformed("a signed record without a valid `seq`/`head`"))?;
                let state = chain.state();
                match record.kind {
                    RecordKind::Start => Err(ChainBroken::Malformed("a `start` record in the middle of a file")),
                    RecordKind::Gap => {
                        let from: u64 =
                            record.get("from").and_then(|f| f.parse().ok()).ok_or(ChainBroken::Malformed("a gap record without `from`"))?;
                        if from != state.seq + 1 || stated.seq < from {
                            return Err(ChainBroken::Gap { from, to: stated.seq, at: state.seq });
                        }
                        chain.skip_to(self.keys.hmac_key(), stated);
                        self.notes.push(format!("records {from}..={} declared lost by a signed gap record", stated.seq));
                        self.sealed = true;
                        self.last_reason = None;
                        Ok(())
                    }
                    RecordKind::Dropped => {
                        let from = record.get("journalFrom").and_then(|s| s.parse::<u64>().ok());
                        let to = record.get("journalTo").and_then(|s| s.parse::<u64>().ok());
                        let (Some(from), Some(to)) = (from, to) else {
                            return Err(ChainBroken::Malformed("a dropped record without `journalFrom`/`journalTo`"));
                        };
                        let fields = super::dropped_fields(from, to);
                        let borrowed: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
                        if stated.seq != state.seq + 1 || chain.mac(stated.seq, &borrowed) != stated.head {
                            return Err(ChainBroken::Dropped { from, to, at: state.seq });
                        }
                        chain.seal(&borrowed);
                        self.notes.push(format!(
                            "journal events {from}..={to} declared dropped before the handler read them (drop-oldest) by a signed record"
                        ));
                        self.sealed = true;
                        self.last_reason = None;
                        Ok(())
                    }
                    RecordKind::Signature | RecordKind::Retention => {
                        if stated != state {
                            return Err(ChainBroken::Unchained { kind: record.kind.as_str(), signs: stated.seq, ends: state.seq });
                        }
                        if record.kind == RecordKind::Retention {
                            let file = record.get("file").ok_or(ChainBroken::Malformed("a retention record without `file`"))?;
                            let seq = record.get("fileSeq").and_then(|s| s.parse().ok());
                            let head = record.get("fileHead").and_then(|h| hex::decode(h).ok()).and_then(|h| h.try_into().ok());
                            let (Some(seq), Some(head)) = (seq, head) else {
                                return Err(ChainBroken::Malformed("a retention record without `fileSeq`/`fileHead`"));
                            };
                            self.retention.push((file.to_owned(), ChainState { seq, head }));
                        } else {
                            self.last_reason = record.get("reason").map(str::to_owned);
                        }
                        self.sealed = true;
                        Ok(())
                    }
                }
            }
        }
    }

    fn start(&mut self, name: &str, start: &SignedRecord) -> Result<(), ChainBroken> {
        if start.kind != RecordKind::Start {
            return Err(ChainBroken::NotStart(start.kind.as_str()));
        }
        if !start.verify(self.keys) {
            return Err(ChainBroken::StartSignature);
        }
        let stated = start.state().ok_or(ChainBroken::Malformed("a start record without a valid `seq`/`head`"))?;
        let previous = start.get("previous").unwrap_or_default().to_owned();
        match (&self.chain, &self.previous_file) {
            (Some(chain), Some(before)) if !self.resync => {
                if previous != *before {
                    return Err(ChainBroken::Follows { previous, before: before.clone() });
                }
                if stated != chain.state() {
                    return Err(ChainBroken::Unlinked { from: stated.seq, before: before.clone(), ends: chain.state().seq });
                }
            }
            (None, _) => {
                if previous.is_empty() && stated != ChainState::GENESIS {
                    return Err(ChainBroken::FirstNotGenesis);
                }
                if !previous.is_empty() {
                    self.first_claim = Some((name.to_owned(), previous, stated));
                }
            }
            _ => {}
        }
        self.resync = false;
        self.chain = Some(Chain::resume(self.keys.hmac_key(), stated));
        self.started = true;
        self.sealed = true;
        self.previous_file = Some(name.to_owned());
        Ok(())
    }

    /// Ends the current file. An archive must end with its `rotate`
    /// signature, the live file with the `close` signature written when the
    /// output stopped; with `open` (a service still writing it) the live
    /// file may end anywhere. `Ok` carries a note for an open tail.
    pub fn end_file(&mut self, live: bool, open: bool) -> Result<Option<String>, ChainBroken> {
        let seq = self.chain.as_ref().map_or(0, |c| c.state().seq);
        let wanted = if live { "close" } else { "rotate" };
        let notes = std::mem::take(&mut self.notes);
        let note = |extra: Option<&str>| {
            let all: Vec<&str> = notes.iter().map(String::as_str).chain(extra).collect();
            (!all.is_empty()).then(|| all.join("; "))
        };
        let result = if !self.started {
            Err(ChainBroken::Empty)
        } else if self.sealed && self.last_reason.as_deref() == Some(wanted) {
            Ok(note(None))
        } else if live && open {
            Ok(note((!self.sealed).then_some("its last records are not signed yet (written since the last signature)")))
        } else if live {
            Err(ChainBroken::NoClose(seq))
        } else {
            Err(ChainBroken::NoRotate(seq))
        };
        if result.is_err() {
            self.resync = true;
        }
        result
    }

    /// After the last file: the first file's predecessor must have been
    /// deleted by retention (a signed record says so, with the state the
    /// first file continues from). `Err` names the first file and why.
    pub fn finish(&self) -> Result<(), (String, ChainBroken)> {
        let Some((first, previous, state)) = &self.first_claim else {
            return Ok(());
        };
        match self.retention.iter().find(|(file, _)| file == previous) {
            Some((_, deleted)) if deleted == state => Ok(()),
            Some(_) => Err((first.clone(), ChainBroken::RetainedElsewhere(previous.clone()))),
            None => Err((first.clone(), ChainBroken::PredecessorMissing(previous.clone()))),
        }
    }
}
