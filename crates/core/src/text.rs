//! Text hygiene for PostgreSQL: TEXT and JSONB reject the NUL character (SQLSTATE 22P05),
//! and GitHub text (commit messages, titles) can contain it. We strip it, never fail on it.

use std::borrow::Cow;

/// Removes NUL characters from a string, borrowing when there are none (the usual case).
pub fn strip_nul(s: &str) -> Cow<'_, str> {
    if memchr::memchr(0, s.as_bytes()).is_none() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.replace('\0', ""))
    }
}

/// Owned variant of [`strip_nul`] for values that are stored.
pub fn clean(s: &str) -> String {
    strip_nul(s).into_owned()
}

/// Removes every `\u0000` escape from raw JSON text so PostgreSQL accepts it as JSONB.
///
/// Valid JSON can only carry NUL as that escape (raw control characters are invalid), so
/// this keeps the document valid and otherwise byte-identical: the stored payload is the
/// delivery's own text, never a re-serialisation. An escaped backslash followed by
/// `u0000` (`\\u0000`) is literal text and is kept.
pub fn strip_json_nul_escapes(json: &[u8]) -> Cow<'_, [u8]> {
    const NUL_ESCAPE: &[u8] = b"\\u0000";
    if memchr::memmem::find(json, NUL_ESCAPE).is_none() {
        return Cow::Borrowed(json);
    }
    let mut out = Vec::with_capacity(json.len());
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'\\', &json[i..]) {
        let at = i + offset;
        out.extend_from_slice(&json[i..at]);
        if json[at..].starts_with(NUL_ESCAPE) {
            i = at + NUL_ESCAPE.len();
        } else {
            // Copy the backslash and the character it escapes as one unit.
            let end = (at + 2).min(json.len());
            out.extend_from_slice(&json[at..end]);
            i = end;
        }
    }
    out.extend_from_slice(&json[i..]);
    Cow::Owned(out)
}

/// Whether a JSON object key contains a `\u0000` escape. Such a payload is refused
/// (`INVALID_PAYLOAD`): the stored text has its NUL escapes stripped
/// ([`strip_json_nul_escapes`]), which inside a key can make it equal to another key of the
/// object, so the stored payload would no longer mean what the delivery meant (a rebuild
/// would read the other key's value). Expects valid JSON; cheap when there is no NUL escape.
pub fn nul_escape_in_key(json: &[u8]) -> bool {
    const NUL_ESCAPE: &[u8] = b"\\u0000";
    if memchr::memmem::find(json, NUL_ESCAPE).is_none() {
        return false;
    }
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'"', &json[i..]) {
        // A string starts here (we only ever stop outside strings).
        let mut j = i + offset + 1;
        let mut has_nul = false;
        while j < json.len() {
            match json[j] {
                b'\\' => {
                    has_nul |= json[j..].starts_with(NUL_ESCAPE);
                    j += 2;
                }
                b'"' => break,
                _ => j += 1,
            }
        }
        i = (j + 1).min(json.len());
        if has_nul {
            let next = json[i..].iter().find(|b| !b.is_ascii_whitespace());
            if next == Some(&b':') {
                return true;
            }
        }
    }
    false
}

/// Replaces the user information of every URL in a message (`scheme://user:password@host`
/// becomes `scheme://***@host`), for driver errors that go to logs, `lastError` and
/// JavaScript: database and Redis URLs carry passwords.
pub fn redact_credentials(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for word in message.split_inclusive(char::is_whitespace) {
        match (word.find("://"), word.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                out.push_str(&word[..scheme + 3]);
                out.push_str("***");
                out.push_str(&word[at..]);
            }
            _ => out.push_str(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn finds_nul_escapes_in_keys_only() {
        assert!(nul_escape_in_key(br#"{"a":1,"ti\u0000tle":"x"}"#));
        assert!(nul_escape_in_key(br#"{"a":{"b\u0000" : 2}}"#));
        assert!(!nul_escape_in_key(br#"{"title":"a\u0000b","x":[":"]}"#));
        assert!(
            !nul_escape_in_key(br#"{"k\\u0000":"v"}"#),
            "an escaped backslash"
        );
        assert!(!nul_escape_in_key(br#"{"k":"\"\u0000", "z": 1}"#));
        assert!(!nul_escape_in_key(br#"{"title":"plain"}"#));
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact_credentials("error connecting to postgres://user:secret@db:5432/x now"),
            "error connecting to postgres://***@db:5432/x now"
        );
        assert_eq!(
            redact_credentials("redis: (redis://:p%40ss@cache:6379/1) refused"),
            "redis: (redis://***@cache:6379/1) refused"
        );
        assert_eq!(redact_credentials("no url here"), "no url here");
    }

    #[test]
    fn strips_nul_from_text() {
        assert!(matches!(strip_nul("plain"), Cow::Borrowed("plain")));
        assert_eq!(strip_nul("a\0b\0"), "ab");
    }

    #[test]
    fn strips_nul_escapes_but_keeps_escaped_backslashes() {
        let s = br#"{"a":"x\u0000y","b":"\\u0000","c":"\"\u0000"}"#;
        let out = strip_json_nul_escapes(s);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"a":"xy","b":"\\u0000","c":"\""}"#
        );
        assert!(matches!(
            strip_json_nul_escapes(b"{\"a\":\"\\n\"}"),
            Cow::Borrowed(_)
        ));
    }

    proptest! {
        /// Whatever strings a document holds, the cleaned text is valid JSON with the same
        /// strings minus their NUL characters.
        #[test]
        fn cleaned_json_equals_nul_free_values(values in proptest::collection::vec(any::<String>(), 0..8)) {
            let json = serde_json::to_vec(&values).unwrap();
            let cleaned = strip_json_nul_escapes(&json);
            let back: Vec<String> = serde_json::from_slice(&cleaned).unwrap();
            let expected: Vec<String> = values.iter().map(|v| v.replace('\0', "")).collect();
            prop_assert_eq!(back, expected);
        }
    }
}
