//! The scanners: each finds one kind of personal data or secret in a string
//! and replaces it with its mask. Hand-written (no regular-expression
//! engine): the component stays small and a string is scanned in one pass
//! per kind.

/// The kinds of data the redactor masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// `Bearer <token>` (the word in any case, then a token of at least 8
    /// characters).
    Bearer,
    /// A JSON Web Token: `eyJ….eyJ….<signature>`.
    Jwt,
    /// An e-mail address: `local@domain.tld`.
    Email,
    /// A payment card number: 13 to 19 digits, optionally in groups
    /// separated by single spaces or dashes, passing the Luhn check.
    Card,
}

impl Kind {
    /// Every kind, in the order they are applied.
    pub const ALL: [Kind; 4] = [Kind::Bearer, Kind::Jwt, Kind::Email, Kind::Card];

    /// The configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bearer => "bearer",
            Kind::Jwt => "jwt",
            Kind::Email => "email",
            Kind::Card => "card",
        }
    }

    /// The default mask.
    pub fn default_mask(self) -> &'static str {
        match self {
            Kind::Bearer => "[token]",
            Kind::Jwt => "[jwt]",
            Kind::Email => "[email]",
            Kind::Card => "[card]",
        }
    }

    /// `text` with every match replaced by `mask`; `None` when nothing
    /// matched (the common case allocates nothing).
    pub fn redact(self, text: &str, mask: &str) -> Option<String> {
        let spans = match self {
            Kind::Bearer => bearer_spans(text),
            Kind::Jwt => jwt_spans(text),
            Kind::Email => email_spans(text),
            Kind::Card => card_spans(text),
        };
        if spans.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in spans {
            out.push_str(&text[at..start]);
            out.push_str(mask);
            at = end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Shortest token masked after `Bearer ` (so that "the bearer of bad news"
/// stays as it is; real tokens are far longer).
const MIN_TOKEN: usize = 8;

/// The token after each `Bearer ` (the word itself is kept, so the masked
/// text still says what it was).
fn bearer_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let token_char = |c: u8| c.is_ascii_alphanumeric() || b"-._~+/".contains(&c);
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 6 < b.len() {
        if b[i..i + 6].eq_ignore_ascii_case(b"bearer") && (i == 0 || !is_word(b[i - 1])) && b[i + 6] == b' ' {
            let mut start = i + 6;
            while b.get(start) == Some(&b' ') {
                start += 1;
            }
            let mut end = start;
            while b.get(end).is_some_and(|&c| token_char(c)) {
                end += 1;
            }
            while b.get(end) == Some(&b'=') {
                end += 1;
            }
            if end - start >= MIN_TOKEN {
                spans.push((start, end));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    spans
}

/// `eyJ<base64url>.eyJ<base64url>.<base64url>`: header and payload are
/// base64url JSON objects, which always start `eyJ` (`{"`).
fn jwt_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let seg = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    let segment_end = |mut i: usize| {
        while b.get(i).is_some_and(|&c| seg(c)) {
            i += 1;
        }
        i
    };
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 3 <= b.len() {
        if &b[i..i + 3] == b"eyJ" && (i == 0 || !seg(b[i - 1])) {
            let header_end = segment_end(i);
            if b.get(header_end) == Some(&b'.') && b[header_end + 1..].starts_with(b"eyJ") {
                let payload_end = segment_end(header_end + 1);
                if b.get(payload_end) == Some(&b'.') {
                    let end = segment_end(payload_end + 1);
                    spans.push((i, end));
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    spans
}

/// `local@domain.tld`: a local part of letters, digits and `._%+-`, a domain
/// of at least two dot-separated labels and a top-level label of at least
/// two letters.
fn email_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for (at, _) in text.match_indices('@') {
        if spans.last().is_some_and(|&(_, end)| at < end) {
            continue;
        }
        let mut start = at;
        while start > 0 && local(b[start - 1]) {
            start -= 1;
        }
        while start < at && b[start] == b'.' {
            start += 1;
        }
        let mut end = at + 1;
        while end < b.len() && domain(b[end]) {
            end += 1;
        }
        while end > at + 1 && matches!(b[end - 1], b'.' | b'-') {
            end -= 1;
        }
        if start == at || end == at + 1 {
            continue;
        }
        let labels: Vec<&[u8]> = b[at + 1..end].split(|&c| c == b'.').collect();
        let tld = labels[labels.len() - 1];
        if labels.len() >= 2 && labels.iter().all(|l| !l.is_empty()) && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
            spans.push((start, end));
        }
    }
    spans
}

/// Card numbers: digit groups joined by single spaces or dashes, not glued
/// to letters or other digits; from each group, the longest run of whole
/// groups with 13–19 digits that passes the Luhn check.
fn card_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.')) {
            i += 1;
            continue;
        }
        // The groups of this run: (start, end) of each digit group.
        let mut groups = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            groups.push((start, j));
            if j + 1 < b.len() && matches!(b[j], b' ' | b'-') && b[j + 1].is_ascii_digit() {
                j += 1;
            } else {
                break;
            }
        }
        let run_end = j;
        let glued = run_end < b.len() && (b[run_end].is_ascii_alphanumeric() || b[run_end] == b'_');
        let mut g = 0;
        while g < groups.len() {
            let found = (g..groups.len()).rev().find(|&last| {
                let digits: Vec<u8> = groups[g..=last].iter().flat_map(|&(s, e)| b[s..e].iter().map(|c| c - b'0')).collect();
                let ends_run = last + 1 == groups.len();
                (13..=19).contains(&digits.len()) && !(ends_run && glued) && luhn(&digits)
            });
            match found {
                Some(last) => {
                    spans.push((groups[g].0, groups[last].1));
                    g = last + 1;
                }
                None => g += 1,
            }
        }
        i = run_end.max(i + 1);
    }
    spans
}

/// The Luhn (mod 10) check of a card number's digits.
pub fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(n, &d)| {
            let d = u32::from(d);
            if n % 2 == 1 {
                let d2 = d * 2;
                if d2 > 9 { d2 - 9 } else { d2 }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> String {
        let mut out = text.to_owned();
        for kind in Kind::ALL {
            if let Some(r) = kind.redact(&out, kind.default_mask()) {
                out = r;
            }
        }
        out
    }

    #[test]
    fn emails() {
        assert_eq!(all("mail bjensen@example.com now"), "mail [email] now");
        assert_eq!(all("<a.b+c@mail.example.co.uk>."), "<[email]>.");
        assert_eq!(all("two: a@x.org, b@y.net"), "two: [email], [email]");
        assert_eq!(all("user@localhost and @home and a@b.c1"), "user@localhost and @home and a@b.c1");
    }

    #[test]
    fn cards() {
        assert_eq!(all("card 4111 1111 1111 1111 ok"), "card [card] ok");
        assert_eq!(all("4111-1111-1111-1111"), "[card]");
        assert_eq!(all("pan=5500005555555559;"), "pan=[card];");
        assert_eq!(all("amex 378282246310005"), "amex [card]");
        assert_eq!(all("4111 1111 1111 1111 2 items"), "[card] 2 items", "a number after the card is not part of it");
        // Not Luhn-valid, too short, too long, glued to letters.
        assert_eq!(all("4111 1111 1111 1112"), "4111 1111 1111 1112");
        assert_eq!(all("order 1234567890123456"), "order 1234567890123456");
        assert_eq!(all("411111111111"), "411111111111");
        assert_eq!(all("41111111111111111111111"), "41111111111111111111111");
        assert_eq!(all("id4111111111111111"), "id4111111111111111");
        assert_eq!(all("2026-11-22T06:00:00Z"), "2026-11-22T06:00:00Z");
        assert!(luhn(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1, 3]));
    }

    #[test]
    fn bearer_tokens_and_jwts() {
        assert_eq!(all("Authorization: Bearer abc.DEF-123_x=="), "Authorization: Bearer [token]");
        assert_eq!(all("bearer  xyz12345"), "bearer  [token]");
        assert_eq!(all("the bearer of bad news"), "the bearer of bad news", "shorter than 8: not a token");
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(all(&format!("token={jwt}&x=1")), "token=[jwt]&x=1");
        assert_eq!(all(&format!("Bearer {jwt}")), "Bearer [token]");
        assert_eq!(all("eyJust a word"), "eyJust a word");
    }
}
