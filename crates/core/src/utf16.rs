//! JavaScript strings, which V8 hands over as UTF-16 code units, to the UTF-8 bytes the
//! parser reads. Bull delivers every payload as a string, so this runs once per event.
//!
//! Why not napi's own UTF-8 getter: it walks the string twice (once for the length) with
//! V8's per-character encoder when the string is stored as two bytes per character, which
//! V8 does for any text with a character above U+00FF (an emoji in a title, a name in
//! Chinese): 1.45 ms of a 1.3 MB push. Copying the code units out (a plain copy, widened for
//! one-byte strings) and transcoding them with simdutf, the library Node itself uses for
//! this, takes 0.2 ms, and stays as fast as napi's getter for all-ASCII text.

/// UTF-8 of UTF-16 code units in native byte order. Unpaired surrogates become U+FFFD, as
/// they do in V8's own UTF-8 output, so the bytes are those napi's getter would give.
pub fn to_utf8(units: &[u16]) -> Vec<u8> {
    if units.is_empty() {
        return Vec::new();
    }
    // A code unit takes at most 3 bytes in UTF-8 (a surrogate pair: 2 units, 4 bytes).
    let mut out: Vec<u8> = Vec::with_capacity(units.len() * 3);
    // SAFETY: both pointers come from live allocations (non-null, aligned, not
    // overlapping); simdutf reads `units.len()` units and writes at most 3 bytes per unit,
    // within the capacity reserved above, and returns how many bytes it wrote.
    let written =
        unsafe { simdutf::convert_utf16_to_utf8(units.as_ptr(), units.len(), out.as_mut_ptr()) };
    if written == 0 {
        // Not valid UTF-16 (an unpaired surrogate): the slower path that replaces them.
        return String::from_utf16_lossy(units).into_bytes();
    }
    // SAFETY: simdutf initialised the first `written` bytes.
    unsafe { out.set_len(written) };
    // The bytes live as long as the call (the job holds them); give back the unused worst
    // case when it is big enough to matter (a copy of the bytes, ~0.1 ms per MB).
    if out.capacity() - out.len() > SLACK_KEPT {
        out.shrink_to_fit();
    }
    out
}

/// Unused capacity kept rather than copied away: what a typical 10–30 KB payload leaves.
const SLACK_KEPT: usize = 128 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn transcodes_every_width_of_character() {
        for s in [
            "",
            "{}",
            "{\"t\":\"é ü ß\"}",
            "中文 タイトル",
            "🚀 ship it 🎉",
            "a\u{0}b",
        ] {
            assert_eq!(to_utf8(&units(s)), s.as_bytes(), "{s:?}");
        }
        let long = "plain ascii, then 🚀, ".repeat(50_000);
        let bytes = to_utf8(&units(&long));
        assert_eq!(bytes, long.as_bytes());
        assert!(bytes.capacity() - bytes.len() <= SLACK_KEPT);
    }

    #[test]
    fn unpaired_surrogates_become_replacement_characters() {
        let mut broken = units("{\"title\":\"ab");
        broken.push(0xD83D); // high surrogate with no low one after it
        broken.extend(units("c\"}"));
        assert_eq!(to_utf8(&broken), "{\"title\":\"ab\u{FFFD}c\"}".as_bytes());
        assert_eq!(to_utf8(&[0xDC00]), "\u{FFFD}".as_bytes());
    }
}
