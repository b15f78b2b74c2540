//! CREST queries over audit events: the `_queryFilter` language of
//! ForgeRock's common REST API, `_sortKeys`, and paging with `_pageSize`
//! and `_pagedResultsCookie`. Pure computation: the caller reads the events
//! (from a journal, an output file, ...) and hands them to [`run`] in
//! storage order.
//!
//! ```
//! use wasp::query::{QueryRequest, run};
//! use serde_json::json;
//!
//! let filter = r#"userId eq "bjensen" and /response/status eq 'FAILED'"#;
//! let request = QueryRequest::from_params(filter, Some("10"), None, Some("-timestamp"))?;
//! let events = vec![json!({"userId": "BJensen", "response": {"status": "FAILED"}})];
//! let page = run(&request, events.into_iter().map(Ok::<_, std::io::Error>)).unwrap();
//! assert_eq!(page.result_count, 1);
//! # Ok::<(), wasp::query::QueryError>(())
//! ```
//!
//! # `_queryFilter`
//!
//! ```text
//! expr  := or
//! or    := and ("or" and)*
//! and   := unary ("and" unary)*
//! unary := "!" unary | "(" expr ")" | "true" | "false"
//!        | pointer "pr" | pointer op value
//! op    := "eq" | "co" | "sw" | "lt" | "le" | "gt" | "ge"
//! ```
//!
//! Keywords (`and`, `or`, `true`, `false`, the operators) ignore case;
//! whitespace between tokens is free (at least one space is needed where two
//! words would otherwise run together).
//!
//! - A **pointer** is a JSON pointer, with or without its leading slash
//!   (`/client/ip`, `userId`, `_id`), with the `~1` (`/`) and `~0` (`~`)
//!   escapes; array elements by index (`/trackingIds/0`). A bare pointer
//!   ends at whitespace or a parenthesis; a pointer holding those may be
//!   written as a JSON string: `"/odd key" pr` (an extension). A field
//!   named `true` or `false` must be written with its slash (`/true`).
//! - A **value** is a JSON string in double quotes (JSON escapes), a string
//!   in single quotes (`\'` is a quote, `\\` a backslash), a JSON number
//!   (integer or decimal, negative, exponent), `true`, `false` or `null`.
//!
//! # Matching (ForgeRock's in-memory semantics)
//!
//! - Strings compare ignoring case (both sides Unicode-lowercased); `co`
//!   (contains) and `sw` (starts with) apply to strings only.
//! - Numbers compare by value, integers and decimals mixed (`1` equals
//!   `1.0`).
//! - Booleans support `eq` only; `eq null` matches an explicit `null` only.
//! - Values of different types never match (`"5" eq 5` is false).
//! - A field that is absent matches no comparison; `pr` is true when the
//!   field is present and not `null`.
//! - When the field is an array, a comparison matches if any element does.
//!
//! # Sorting and paging
//!
//! `_sortKeys` ([`parse_sort_keys`]) orders the results: absent and `null`
//! first (ascending), then numbers, strings (ignoring case), booleans, and
//! other values by their JSON text; `-` reverses a key. Ties keep storage
//! order. Without sort keys, results come in storage order.
//!
//! `_pageSize` absent or 0 returns everything; otherwise [`run`] returns
//! that many results and, when more remain, a `_pagedResultsCookie` for the
//! next page. The cookie is opaque to clients (URL-safe base64 of
//! `{"o":offset,"f":fingerprint}`, the fingerprint being derived from the
//! canonical filter and sort keys): it is refused with another filter or
//! other sort keys. Every event is scanned, so totals are exact.
//!
//! Errors ([`QueryError`]) name the request parameter at fault; filter
//! errors also give the character offset and the text around it.

pub(crate) mod filter;
mod page;
pub mod slim;

pub use filter::{MAX_DEPTH, QueryFilter};
pub use page::{Collector, QueryPage, SortKey, compare_values, parse_sort_keys, run};

#[cfg(test)]
mod tests;

/// Why a query request is refused. The message starts with the name of the
/// request parameter at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `_queryFilter` is empty or blank.
    #[error("_queryFilter: the filter is empty (use `true` to match every event)")]
    EmptyFilter,
    /// `_queryFilter` does not parse.
    #[error("_queryFilter: at {position}: {message} (near `{context}`)")]
    Filter {
        /// Offset of the problem in the filter, in characters, from 0.
        position: usize,
        /// What was expected and what was found.
        message: String,
        /// The text around the problem, with `<here>` marking the position.
        context: String,
    },
    /// `_sortKeys` does not parse.
    #[error("_sortKeys: {0}")]
    SortKeys(String),
    /// `_pageSize` is not a non-negative integer.
    #[error("_pageSize: `{0}` is not a page size (expected a non-negative integer; 0 means no paging)")]
    PageSize(String),
    /// `_pagedResultsCookie` is not one of ours, or belongs to another query.
    #[error("_pagedResultsCookie: {0}")]
    Cookie(String),
}

impl QueryError {
    /// The request parameter at fault: `_queryFilter`, `_sortKeys`,
    /// `_pageSize` or `_pagedResultsCookie`.
    pub fn parameter(&self) -> &'static str {
        match self {
            QueryError::EmptyFilter | QueryError::Filter { .. } => "_queryFilter",
            QueryError::SortKeys(_) => "_sortKeys",
            QueryError::PageSize(_) => "_pageSize",
            QueryError::Cookie(_) => "_pagedResultsCookie",
        }
    }
}

/// A query: filter, sort keys and the page wanted.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryRequest {
    /// Which events.
    pub filter: QueryFilter,
    /// How many results per page; `None` (or 0): all of them.
    pub page_size: Option<usize>,
    /// The `_pagedResultsCookie` of the previous page; `None` for the first.
    pub cookie: Option<String>,
    /// The result order; empty: storage order.
    pub sort_keys: Vec<SortKey>,
}

/// A parameter as received: blank counts as absent.
fn given(param: Option<&str>) -> Option<&str> {
    param.map(str::trim).filter(|p| !p.is_empty())
}

impl QueryRequest {
    /// A request for every event matching `filter`, unsorted, unpaged.
    pub fn new(filter: QueryFilter) -> QueryRequest {
        QueryRequest { filter, page_size: None, cookie: None, sort_keys: Vec::new() }
    }

    /// From the CREST request parameters as received (`_queryFilter`,
    /// `_pageSize`, `_pagedResultsCookie`, `_sortKeys`). A blank optional
    /// parameter counts as absent; `_pageSize` 0 is stored as `None`. The
    /// cookie is checked against the filter and sort keys.
    pub fn from_params(
        query_filter: &str,
        page_size: Option<&str>,
        cookie: Option<&str>,
        sort_keys: Option<&str>,
    ) -> Result<QueryRequest, QueryError> {
        let filter = QueryFilter::parse(query_filter)?;
        let page_size = match given(page_size) {
            None => None,
            Some(text) => Some(text.parse::<usize>().map_err(|_| QueryError::PageSize(text.to_owned()))?),
        };
        let request = QueryRequest {
            filter,
            page_size: page_size.filter(|&n| n > 0),
            cookie: given(cookie).map(str::to_owned),
            sort_keys: parse_sort_keys(given(sort_keys).unwrap_or(""))?,
        };
        request.offset()?;
        Ok(request)
    }

    /// Where the requested page starts among the results: 0 without a
    /// cookie, else the offset the cookie holds, once checked to belong to
    /// this request's filter and sort keys.
    pub fn offset(&self) -> Result<usize, QueryError> {
        match &self.cookie {
            None => Ok(0),
            Some(cookie) => page::decode_cookie(self, cookie),
        }
    }
}
