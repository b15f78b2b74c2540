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
    pub fn entry(&mut self, name: &str, entry: Entry) -> Result<(), String> {
        let result = self.check(name, entry);
        if result.is_err() {
            self.resync = true;
        }
        result
    }

    fn check(&mut self, name: &str, entry: Entry) -> Result<(), String> {
        if !self.started {
            let Entry::Signed(start) = &entry else {
                return Err("the file does not begin with a signed `start` record".into());
            };
            return self.start(name, start);
        }
        let chain = self.chain.as_mut().expect("set by start");
        match entry {
            Entry::Data { seq, mac, fields } => {
                let expected = chain.state().seq + 1;
                if seq > expected {
                    return Err(format!("sequence jumps from {} to {seq} with no signed gap record (records were removed)", expected - 1));
                }
                if seq < expected {
                    return Err(format!("sequence goes back from {} to {seq} (records were reordered or inserted)", expected - 1));
                }
                let borrowed: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect();
                if chain.mac(seq, &borrowed) != mac {
                    return Err(format!("record {seq}: the MAC does not match (the record was changed, or does not belong here)"));
                }
                chain.seal(&borrowed);
                self.sealed = false;
                self.last_reason = None;
                self.records += 1;
                Ok(())
            }
            Entry::Signed(record) => {
                if !record.verify(self.keys) {
                    return Err(format!("the {} record's signature is not valid (the record was changed or forged)", record.kind.as_str()));
                }
                let stated = record.state().ok_or("a signed record without a valid `seq`/`head`")?;
                let state = chain.state();
                match record.kind {
                    RecordKind::Start => Err("a `start` record in the middle of a file".into()),
                    RecordKind::Gap => {
                        let from: u64 = record.get("from").and_then(|f| f.parse().ok()).ok_or("a gap record without `from`")?;
                        if from != state.seq + 1 || stated.seq < from {
                            return Err(format!(
                                "a gap record for {from}..={} where the chain is at {} (records were removed around it)",
                                stated.seq, state.seq
                            ));
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
                            return Err("a dropped record without `journalFrom`/`journalTo`".into());
                        };
                        let fields = super::dropped_fields(from, to);
                        let borrowed: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
                        if stated.seq != state.seq + 1 || chain.mac(stated.seq, &borrowed) != stated.head {
                            return Err(format!(
                                "the dropped record for journal events {from}..={to} does not continue the chain at record {} (records around it were changed, removed or added)",
                                state.seq
                            ));
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
                            return Err(format!(
                                "the {} record signs the chain at record {} but the records before it end at {} with another head (records before it were changed, removed or added)",
                                record.kind.as_str(),
                                stated.seq,
                                state.seq
                            ));
                        }
                        if record.kind == RecordKind::Retention {
                            let file = record.get("file").ok_or("a retention record without `file`")?;
                            let seq = record.get("fileSeq").and_then(|s| s.parse().ok());
                            let head = record.get("fileHead").and_then(|h| hex::decode(h).ok()).and_then(|h| h.try_into().ok());
                            let (Some(seq), Some(head)) = (seq, head) else {
                                return Err("a retention record without `fileSeq`/`fileHead`".into());
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

    fn start(&mut self, name: &str, start: &SignedRecord) -> Result<(), String> {
        if start.kind != RecordKind::Start {
            return Err(format!("the file begins with a `{}` record, not `start`", start.kind.as_str()));
        }
        if !start.verify(self.keys) {
            return Err("the start record's signature is not valid (changed or forged)".into());
        }
        let stated = start.state().ok_or("a start record without a valid `seq`/`head`")?;
        let previous = start.get("previous").unwrap_or_default().to_owned();
        match (&self.chain, &self.previous_file) {
            (Some(chain), Some(before)) if !self.resync => {
                if previous != *before {
                    return Err(format!(
                        "this file follows `{previous}`, but the file before it here is `{before}` (files were removed, renamed or swapped)"
                    ));
                }
                if stated != chain.state() {
                    return Err(format!(
                        "this file continues from record {} but `{before}` ends at record {} (the files do not link)",
                        stated.seq,
                        chain.state().seq
                    ));
                }
            }
            (None, _) => {
                if previous.is_empty() && stated != ChainState::GENESIS {
                    return Err("the first file claims no predecessor but does not start the chain".into());
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
    pub fn end_file(&mut self, live: bool, open: bool) -> Result<Option<String>, String> {
        let seq = self.chain.as_ref().map_or(0, |c| c.state().seq);
        let wanted = if live { "close" } else { "rotate" };
        let notes = std::mem::take(&mut self.notes);
        let note = |extra: Option<&str>| {
            let all: Vec<&str> = notes.iter().map(String::as_str).chain(extra).collect();
            (!all.is_empty()).then(|| all.join("; "))
        };
        let result = if !self.started {
            Err("the file is empty: it has no start record".into())
        } else if self.sealed && self.last_reason.as_deref() == Some(wanted) {
            Ok(note(None))
        } else if live && open {
            Ok(note((!self.sealed).then_some("its last records are not signed yet (written since the last signature)")))
        } else if live {
            Err(format!(
                "the file ends at record {seq} without the `close` signature (its tail was cut, or the output is still running or crashed: use --open)"
            ))
        } else {
            Err(format!("the archive ends at record {seq} without its `rotate` signature (its tail was cut)"))
        };
        if result.is_err() {
            self.resync = true;
        }
        result
    }

    /// After the last file: the first file's predecessor must have been
    /// deleted by retention (a signed record says so, with the state the
    /// first file continues from). `Err` names the first file and why.
    pub fn finish(&self) -> Result<(), (String, String)> {
        let Some((first, previous, state)) = &self.first_claim else { return Ok(()) };
        match self.retention.iter().find(|(file, _)| file == previous) {
            Some((_, deleted)) if deleted == state => Ok(()),
            Some(_) => Err((
                first.clone(),
                format!("`{previous}` was deleted by retention, but at another chain state than this file continues from"),
            )),
            None => Err((
                first.clone(),
                format!(
                    "the file before this one, `{previous}`, is missing and no retention record accounts for it (an archive was removed)"
                ),
            )),
        }
    }
}
