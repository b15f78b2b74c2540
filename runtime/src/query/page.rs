//! Sorting (`_sortKeys`), paging (`_pageSize`, `_pagedResultsCookie`) and
//! the query run itself: one streaming pass over the events.

use std::cmp::Ordering;
use std::fmt;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::filter::{fold_cmp, lookup, normalize_pointer, number_cmp};
use super::{QueryError, QueryRequest};

/// URL-safe base64; written without padding, read with or without.
const COOKIE_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_encode_padding(false).with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One `_sortKeys` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Normalized JSON pointer of the field, with its leading `/`.
    pub pointer: String,
    /// `false` when the key was written with a `-` prefix.
    pub ascending: bool,
}

impl fmt::Display for SortKey {
    /// Canonical text: `/pointer` ascending, `-/pointer` descending.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.ascending { "" } else { "-" }, self.pointer)
    }
}

/// Parses `_sortKeys`: comma-separated JSON pointers (with or without their
/// leading `/`), each with an optional `+` (ascending, the default) or `-`
/// (descending) prefix: `"timestamp,-userId,+/client/ip"`. Blank text is
/// no keys.
pub fn parse_sort_keys(text: &str) -> Result<Vec<SortKey>, QueryError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .enumerate()
        .map(|(i, item)| {
            let item = item.trim();
            let (ascending, raw) = match item.strip_prefix('-') {
                Some(rest) => (false, rest),
                None => (true, item.strip_prefix('+').unwrap_or(item)),
            };
            let pointer =
                normalize_pointer(raw.trim()).map_err(|message| QueryError::SortKeys(format!("key {} (`{item}`): {message}", i + 1)))?;
            Ok(SortKey { pointer, ascending })
        })
        .collect()
}

/// One page of results, as [`run`] returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryPage {
    /// The matching events of this page, in result order.
    pub result: Vec<Value>,
    /// `result.len()`.
    pub result_count: usize,
    /// The cookie for the next page; `None` on the last page (and when the
    /// request was not paged).
    pub paged_results_cookie: Option<String>,
    /// How many events match the filter (exact: every event is scanned).
    pub total_paged_results: i64,
    /// How many matching events come after this page.
    pub remaining_paged_results: i64,
}

impl QueryPage {
    /// The page of `request` starting at `offset` among `total` matches,
    /// holding `result`; with the cookie of the next page when the request
    /// is paged and matches remain.
    pub fn of(request: &QueryRequest, offset: usize, result: Vec<Value>, total: usize) -> QueryPage {
        let next = offset.saturating_add(result.len());
        let remaining = total.saturating_sub(next);
        let paged = request.page_size.is_some_and(|n| n > 0);
        let paged_results_cookie = (paged && remaining > 0).then(|| encode_cookie(request, next));
        QueryPage {
            result_count: result.len(),
            result,
            paged_results_cookie,
            total_paged_results: i64::try_from(total).unwrap_or(i64::MAX),
            remaining_paged_results: i64::try_from(remaining).unwrap_or(i64::MAX),
        }
    }

    /// The CREST query response: `result`, `resultCount`,
    /// `pagedResultsCookie` (`null` on the last page),
    /// `totalPagedResultsPolicy` (always `"EXACT"`), `totalPagedResults`,
    /// `remainingPagedResults`.
    pub fn to_json(&self) -> Value {
        json!({
            "result": self.result,
            "resultCount": self.result_count,
            "pagedResultsCookie": self.paged_results_cookie,
            "totalPagedResultsPolicy": "EXACT",
            "totalPagedResults": self.total_paged_results,
            "remainingPagedResults": self.remaining_paged_results,
        })
    }
}

/// What a cookie holds.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cookie {
    /// Offset of the next page among the matching events, in result order.
    o: usize,
    /// [`fingerprint`] of the query the cookie belongs to.
    f: String,
}

/// First 16 hex digits of the SHA-256 of the canonical filter and sort keys:
/// ties a cookie to its query.
fn fingerprint(request: &QueryRequest) -> String {
    let keys: Vec<String> = request.sort_keys.iter().map(SortKey::to_string).collect();
    let digest = Sha256::digest(format!("{}\n{}", request.filter, keys.join(",")).as_bytes());
    hex::encode(&digest[..8])
}

/// The cookie for the page starting at `offset` of `request`'s results.
pub(super) fn encode_cookie(request: &QueryRequest, offset: usize) -> String {
    let cookie = Cookie { o: offset, f: fingerprint(request) };
    // Serializing a struct of a number and a string cannot fail.
    COOKIE_BASE64.encode(serde_json::to_vec(&cookie).unwrap_or_default())
}

/// The offset `cookie` points to, if it is a cookie of `request`'s query.
pub(super) fn decode_cookie(request: &QueryRequest, cookie: &str) -> Result<usize, QueryError> {
    let invalid = || QueryError::Cookie("not a paged-results cookie from this service".to_owned());
    let bytes = COOKIE_BASE64.decode(cookie.trim()).map_err(|_| invalid())?;
    let cookie: Cookie = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if cookie.f != fingerprint(request) {
        return Err(QueryError::Cookie(
            "the cookie belongs to another query (a different _queryFilter or _sortKeys); start again without it".to_owned(),
        ));
    }
    Ok(cookie.o)
}

/// Orders two values of a sort key: absent and `null` first, then numbers
/// (by value), strings (ignoring case), booleans (`false` first), and
/// anything else (arrays, objects) by its JSON text.
pub fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            None | Some(Value::Null) => 0,
            Some(Value::Number(_)) => 1,
            Some(Value::String(_)) => 2,
            Some(Value::Bool(_)) => 3,
            Some(_) => 4,
        }
    }
    match (a, b) {
        (Some(Value::Number(a)), Some(Value::Number(b))) => number_cmp(a, b).unwrap_or(Ordering::Equal),
        (Some(Value::String(a)), Some(Value::String(b))) => fold_cmp(a, b),
        (Some(Value::Bool(a)), Some(Value::Bool(b))) => a.cmp(b),
        (Some(a @ (Value::Array(_) | Value::Object(_))), Some(b @ (Value::Array(_) | Value::Object(_)))) => {
            a.to_string().cmp(&b.to_string())
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Orders two events by `keys` (then by their storage positions, so that
/// ties keep storage order).
fn compare_events<P: Ord>(keys: &[SortKey], a: &(P, Value), b: &(P, Value)) -> Ordering {
    for key in keys {
        let ordering = compare_values(lookup(&a.1, &key.pointer), lookup(&b.1, &key.pointer));
        let ordering = if key.ascending { ordering } else { ordering.reverse() };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    a.0.cmp(&b.0)
}

/// Gathers the events that match one query and keeps only those that can
/// still make the requested page: the best `offset + page size` by the
/// sort keys and then by storage position `P` (any `Ord` that grows in
/// storage order: an index, or a file and byte offset). Every match is
/// counted, so totals are exact.
///
/// A query can be gathered in parts (a file read by two threads, say),
/// each part in its own collector; [`Collector::merge`] joins them in any
/// order, since positions, not arrival, decide storage order.
///
/// Invariant: after any sequence of [`offer`](Collector::offer) and
/// [`merge`](Collector::merge), `kept` holds every offered event that is
/// among the best `end` of all offered ones (and possibly others), so
/// [`finish`](Collector::finish) gives the same page as sorting every
/// match would.
#[derive(Debug)]
pub struct Collector<'q, P> {
    request: &'q QueryRequest,
    offset: usize,
    /// Results past this rank are never needed (`offset + page size`; 0
    /// when the cookie is not one of this request's).
    end: usize,
    total: usize,
    kept: Vec<(P, Value)>,
}

impl<'q, P: Ord> Collector<'q, P> {
    /// An empty collector for `request`.
    pub fn new(request: &'q QueryRequest) -> Collector<'q, P> {
        let offset = request.offset().unwrap_or(usize::MAX);
        let end = match request.page_size.filter(|&n| n > 0) {
            _ if offset == usize::MAX => 0,
            Some(n) => offset.saturating_add(n),
            None => usize::MAX,
        };
        Collector { request, offset, end, total: 0, kept: Vec::new() }
    }

    /// Counts a matching `event`, found at `position`, and keeps it while
    /// it can make the page. The caller has checked the filter.
    pub fn offer(&mut self, position: P, event: Value) {
        self.total += 1;
        if self.end == 0 {
            return;
        }
        self.kept.push((position, event));
        self.trim(false);
    }

    /// The query this collector gathers for.
    pub fn request(&self) -> &'q QueryRequest {
        self.request
    }

    /// The number of matches offered so far (to this part and the parts
    /// merged into it).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Joins another part of the same query.
    pub fn merge(&mut self, other: Collector<'q, P>) {
        self.total += other.total;
        self.kept.extend(other.kept);
        self.trim(false);
    }

    /// Keeps the best `end` events (a selection, not a sort) once there
    /// are four times as many, or always when `now`.
    fn trim(&mut self, now: bool) {
        let trim_at = self.end.saturating_mul(4).max(1024);
        if self.kept.len() > self.end && (now || self.kept.len() >= trim_at) {
            let keys = &self.request.sort_keys;
            self.kept.select_nth_unstable_by(self.end, |a, b| compare_events(keys, a, b));
            self.kept.truncate(self.end);
        }
    }

    /// The requested page, and the position of each of its events.
    pub fn finish(mut self) -> (QueryPage, Vec<P>) {
        self.trim(true);
        let keys = &self.request.sort_keys;
        self.kept.sort_by(|a, b| compare_events(keys, a, b));
        self.kept.drain(..self.offset.min(self.kept.len()));
        let (positions, result): (Vec<P>, Vec<Value>) = self.kept.into_iter().unzip();
        (QueryPage::of(self.request, self.offset, result, self.total), positions)
    }
}

/// Runs `request` over `events`, given in storage order (oldest first), and
/// returns the requested page.
///
/// The pass streams: events that do not match are dropped at once, and at
/// most about four times offset + page size events are kept at a time
/// (see [`Collector`]).
///
/// The first error of `events` (an I/O error reading a file, say) stops the
/// run and is returned as is.
///
/// A cookie that is not one of this request's (see
/// [`QueryRequest::offset`], which [`QueryRequest::from_params`] already
/// checks) yields an empty last page.
pub fn run<E>(request: &QueryRequest, events: impl IntoIterator<Item = Result<Value, E>>) -> Result<QueryPage, E> {
    let mut collector = Collector::new(request);
    for (index, event) in events.into_iter().enumerate() {
        let event = event?;
        if request.filter.matches(&event) {
            collector.offer(index, event);
        }
    }
    Ok(collector.finish().0)
}
