//! A structural scanner over JSON text that is already known to be valid
//! (an event the host serialised, or a value `serde_json` validated): it
//! finds where values, members and elements start and end without
//! building or checking anything else, a few instructions per byte.
//!
//! Given text that is not JSON it may return `None` or nonsense slices, but
//! never panics (every index is checked) and only ever cuts the text at
//! ASCII structural bytes, so every slice is valid UTF-8.

use std::borrow::Cow;

/// The first byte at or after `i` that is not JSON whitespace.
fn ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `x` that equals `c` (and possibly of bytes
/// above such a byte: the lowest bit set is always a true match, which is
/// all the callers use). Eight bytes in a few instructions: inside
/// WebAssembly a byte-by-byte loop costs about twenty per byte.
pub(super) fn eq_mask(x: u64, c: u8) -> u64 {
    let v = x ^ (ONES * u64::from(c));
    v.wrapping_sub(ONES) & !v & HIGHS
}

/// The high bit of every byte of `x` below `0x20` (same caveat).
pub(super) fn control_mask(x: u64) -> u64 {
    x.wrapping_sub(ONES * 0x20) & !x & HIGHS
}

/// The eight bytes at `j` (the caller checked that they exist).
fn word(b: &[u8], j: usize) -> u64 {
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&b[j..j + 8]);
    u64::from_le_bytes(bytes)
}

/// The index of the first byte at or after `j` that `mask` marks, eight
/// at a time; `b.len()` rounded down to the last whole word's end when
/// none is marked there (the caller goes on byte by byte).
pub(super) fn skip_unmarked(b: &[u8], mut j: usize, mask: impl Fn(u64) -> u64) -> usize {
    while j + 8 <= b.len() {
        let m = mask(word(b, j));
        if m != 0 {
            return j + (m.trailing_zeros() / 8) as usize;
        }
        j += 8;
    }
    j
}

/// For the string whose opening quote is at `i`: the index after its
/// closing quote, and whether it holds an escape.
fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j = skip_unmarked(b, j, |x| eq_mask(x, b'"') | eq_mask(x, b'\\'));
        match *b.get(j)? {
            b'"' => return Some((j + 1, escaped)),
            b'\\' => {
                escaped = true;
                j += 2;
            }
            _ => j += 1,
        }
    }
}

/// The index after the value that starts at `i`.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match *b.get(i)? {
        b'"' => string_end(b, i).map(|(end, _)| end),
        b'{' | b'[' => {
            let mut depth = 0_usize;
            let mut j = i;
            // Only quotes and brackets matter here (`[` and `]` are `{`
            // and `}` with bit 5 cleared).
            let brackets = |x: u64| {
                let folded = x | (ONES * 0x20);
                eq_mask(x, b'"') | eq_mask(folded, b'{') | eq_mask(folded, b'}')
            };
            while j < b.len() {
                j = skip_unmarked(b, j, brackets);
                let Some(&byte) = b.get(j) else { break };
                match byte {
                    b'"' => {
                        j = string_end(b, j)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b'}' | b']' | b':' | b' ' | b'\t' | b'\n' | b'\r') {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// `text` without the whitespace around it.
pub(super) fn trim(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\n', '\r'])
}

/// A key as its text: unescaped when it has escapes (`quoted` includes
/// the quotes).
pub(super) fn key(quoted: &str, escaped: bool) -> Cow<'_, str> {
    let inner = &quoted[1..quoted.len() - 1];
    if !escaped {
        return Cow::Borrowed(inner);
    }
    serde_json::from_str::<String>(quoted).map_or(Cow::Borrowed(inner), Cow::Owned)
}

/// Calls `each(quoted key, key has escapes, value)` for every member of
/// the object `text` (trimmed), in order; `None` when `text` is not an
/// object.
pub(super) fn members<'a>(text: &'a str, mut each: impl FnMut(&'a str, bool, &'a str)) -> Option<()> {
    let b = text.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut i = ws(b, 1);
    if b.get(i) == Some(&b'}') {
        return (i + 1 == b.len()).then_some(());
    }
    loop {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (key_end, escaped) = string_end(b, i)?;
        let quoted = &text[i..key_end];
        i = ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        i = ws(b, i + 1);
        let end = value_end(b, i)?;
        each(quoted, escaped, &text[i..end]);
        i = ws(b, end);
        match b.get(i)? {
            b',' => i = ws(b, i + 1),
            b'}' => return (i + 1 == b.len()).then_some(()),
            _ => return None,
        }
    }
}

/// Calls `each(element)` for every element of the array `text` (trimmed),
/// in order; `None` when `text` is not an array.
pub(super) fn elements<'a>(text: &'a str, mut each: impl FnMut(&'a str)) -> Option<()> {
    let b = text.as_bytes();
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut i = ws(b, 1);
    if b.get(i) == Some(&b']') {
        return (i + 1 == b.len()).then_some(());
    }
    loop {
        let end = value_end(b, i)?;
        each(&text[i..end]);
        i = ws(b, end);
        match b.get(i)? {
            b',' => i = ws(b, i + 1),
            b']' => return (i + 1 == b.len()).then_some(()),
            _ => return None,
        }
    }
}
