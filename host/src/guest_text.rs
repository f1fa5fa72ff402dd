//! Text a guest chose, made safe to show: a policy's messages, its refusal of settings, its
//! description. Such text reaches terminals (`patrol check`, `patrol eval`'s errors), logs and
//! HTML, so control characters (escape sequences, carriage returns, newlines, bells) and the
//! Unicode controls that reorder text on screen are written out as escapes (`\u{1b}`, `\n`),
//! and the text is cut at a documented length. One line stays one line.

/// `text` with every control character written as a visible escape, cut to at most `cap` bytes
/// (at a character boundary, ending with `…` when cut).
pub fn shown(text: &str, cap: usize) -> String {
    let mut shown = String::with_capacity(text.len().min(cap));
    for c in text.chars() {
        let before = shown.len();
        if is_hidden(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
        if shown.len() > cap {
            shown.truncate(before);
            // Room for the ellipsis within the cap.
            while shown.len() + '…'.len_utf8() > cap && !shown.is_empty() {
                shown.pop();
            }
            shown.push('…');
            return shown;
        }
    }
    shown
}

/// Makes `text` what [`shown`] would make it, in place, copying only when something changes:
/// most text a policy returns is short printable ASCII, checked a byte at a time and kept.
pub fn make_shown(text: &mut String, cap: usize) {
    if text.len() <= cap
        && (text.bytes().all(|b| matches!(b, b' '..=b'~')) || !text.chars().any(is_hidden))
    {
        return;
    }
    *text = shown(text, cap);
}

/// Characters that change how a terminal shows the rest or hide themselves: C0 and C1
/// controls, DEL, the bidirectional overrides and isolates ("Trojan Source"), line separators and
/// zero-width characters: whatever [`crate::identity`] does not count as printable.
fn is_hidden(c: char) -> bool {
    !crate::identity::is_printable(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_and_one_line_stays_one_line() {
        let forged = "bad\r\x1b[2K\x07error: tenant is valid\n";
        let shown = shown(forged, 1024);
        assert_eq!(shown, "bad\\r\\u{1b}[2K\\u{7}error: tenant is valid\\n");
        assert!(!shown.chars().any(char::is_control));
        assert_eq!(super::shown("a\u{202e}b", 64), "a\\u{202e}b");
        assert_eq!(
            super::shown("a\u{2028}b\u{200b}", 64),
            "a\\u{2028}b\\u{200b}"
        );
    }

    #[test]
    fn making_text_shown_in_place_agrees_with_showing_it() {
        for text in [
            "plain",
            "bad\r\u{1b}[2K",
            "é and ü",
            "a\u{202e}b",
            &"x".repeat(40),
        ] {
            let mut in_place = text.to_string();
            make_shown(&mut in_place, 32);
            assert_eq!(in_place, shown(text, 32), "{text:?}");
        }
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary_within_the_cap() {
        let cut = shown(&"é".repeat(100), 11);
        assert!(cut.len() <= 11, "{cut}");
        assert!(cut.ends_with('…'));
        assert_eq!(shown("short", 11), "short");
    }
}
