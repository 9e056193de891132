//! Member names: decoding as Python's `zipfile` does, and the rules that keep extraction inside
//! its target directory.

use std::collections::{BTreeSet, HashSet};
use std::ops::Bound;

use crate::error::{Error, Result};

/// CP437, bytes 0x80..=0xFF: names without the UTF-8 flag (bit 11) are in this code page
/// (APPNOTE appendix D); `zipfile` decodes them so, and `namelist()` must agree with us.
const CP437_HIGH: [char; 128] = [
    'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ', 'Æ',
    'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', 'á', 'í', 'ó', 'ú', 'ñ', 'Ñ',
    'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', '░', '▒', '▓', '│', '┤', '╡', '╢', '╖', '╕',
    '╣', '║', '╗', '╝', '╜', '╛', '┐', '└', '┴', '┬', '├', '─', '┼', '╞', '╟', '╚', '╔', '╩', '╦',
    '╠', '═', '╬', '╧', '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘', '┌', '█', '▄', '▌', '▐',
    '▀', 'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ', '∞', 'φ', 'ε', '∩', '≡', '±',
    '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²', '■', '\u{a0}',
];

/// Decodes a raw name: UTF-8 when flag bit 11 says so (invalid UTF-8 is corrupt), else CP437.
pub fn decode_name(raw: &[u8], utf8: bool) -> Result<String> {
    if utf8 || raw.is_ascii() {
        return String::from_utf8(raw.to_vec()).map_err(|_| {
            Error::corrupt(format!(
                "member name {:?} is flagged UTF-8 but is not",
                raw.escape_ascii().to_string()
            ))
        });
    }
    Ok(raw
        .iter()
        .map(|&b| match b {
            0x00..=0x7f => char::from(b),
            _ => CP437_HIGH
                .get(usize::from(b - 0x80))
                .copied()
                .unwrap_or(char::REPLACEMENT_CHARACTER),
        })
        .collect())
}

/// Checks that `name` is a relative path that stays inside the directory it is extracted to.
///
/// Refused: an empty name, NUL bytes, backslashes (a separator on Windows, so `..\x` and `C:\x`
/// would escape there), a leading `/`, a drive prefix (`C:`), and `.`, `..` or empty components.
/// One trailing `/` is allowed: it marks a directory entry. Returns the reason on refusal.
pub fn check_member_name(name: &str) -> std::result::Result<(), String> {
    let why = if name.is_empty() {
        "is empty"
    } else if name.contains('\0') {
        "contains a NUL byte"
    } else if name.contains('\\') {
        "contains a backslash"
    } else if name.starts_with('/') {
        "is an absolute path"
    } else if matches!(name.as_bytes(), [d, b':', ..] if d.is_ascii_alphabetic()) {
        "starts with a drive letter"
    } else {
        let body = name.strip_suffix('/').unwrap_or(name);
        match body
            .split('/')
            .find(|c| c.is_empty() || *c == "." || *c == "..")
        {
            Some("..") => "has a '..' component",
            Some(".") => "has a '.' component",
            Some(_) => "has an empty component",
            None => return Ok(()),
        }
    };
    Err(format!("member name {name:?} {why}"))
}

/// The names seen so far, to refuse duplicates and a name that is both a file and a directory
/// (`assets/a` and `assets/a/b`): extracting either would overwrite or fail on the other.
///
/// Costs stay linear in the bytes of the names (times log n): a file `F` clashes exactly when some
/// name starts with `F/`, which one ordered-set lookup answers, so no name's parents are
/// enumerated on the reader's side (a 64 KiB name of `a/a/a/...` has 32768 of them).
#[derive(Default)]
pub struct NameSet {
    all: BTreeSet<String>,
    files: HashSet<String>,
}

impl NameSet {
    /// Records `name` (already passed by [`check_member_name`]); refuses only a duplicate. The
    /// reader adds every name, then calls [`NameSet::check_clashes`] once.
    pub fn insert(&mut self, name: &str) -> std::result::Result<(), String> {
        if !self.all.insert(name.to_string()) {
            return Err(format!("duplicate member name {name:?}"));
        }
        if !name.ends_with('/') {
            self.files.insert(name.to_string());
        }
        Ok(())
    }

    /// Whether `name` could be added without a duplicate or a clash with the names so far (for
    /// the writer, which must refuse a member before writing it). Walks the name's parents, whose
    /// count the caller controls.
    pub fn check(&self, name: &str) -> std::result::Result<(), String> {
        if self.all.contains(name) {
            return Err(format!("duplicate member name {name:?}"));
        }
        let (body, is_dir) = match name.strip_suffix('/') {
            Some(body) => (body, true),
            None => (name, false),
        };
        let clash = if is_dir {
            self.files.contains(body)
        } else {
            self.has_descendant(body)
        } || body
            .match_indices('/')
            .any(|(i, _)| self.files.contains(body.get(..i).unwrap_or("")));
        if clash {
            return Err(format!(
                "member name {name:?} is both a file and a directory"
            ));
        }
        Ok(())
    }

    /// Refuses a file that is also some other name's directory (checked after all inserts).
    pub fn check_clashes(&self) -> std::result::Result<(), String> {
        match self.files.iter().find(|f| self.has_descendant(f)) {
            Some(f) => Err(format!("member name {f:?} is both a file and a directory")),
            None => Ok(()),
        }
    }

    /// Whether a name starts with `path/` (names that do sort together, right after `path/`).
    fn has_descendant(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        self.all
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .next()
            .is_some_and(|n| n.starts_with(&prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp437_matches_python() {
        assert_eq!(decode_name(b"caf\x82", false).unwrap(), "café");
        assert_eq!(decode_name(b"\xff", false).unwrap(), "\u{a0}");
        assert_eq!(decode_name("café".as_bytes(), true).unwrap(), "café");
        assert!(decode_name(b"\xff", true).is_err());
    }

    #[test]
    fn names() {
        for ok in [
            "config.json",
            "assets/layers/tv/vocabulary.txt",
            "assets/",
            "a..b",
            "...",
            ".hidden",
            "ab:c",
        ] {
            assert_eq!(check_member_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "../evil",
            "a/../../evil",
            "..",
            "a/..",
            "/abs",
            "/",
            "C:\\x",
            "c:x",
            "\\\\srv\\x",
            "a\\b",
            "a\0b",
            "a//b",
            "./a",
            "a/./b",
            "a//",
        ] {
            assert!(check_member_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn duplicates_and_file_dir_conflicts() {
        let mut s = NameSet::default();
        for n in ["assets/", "assets/a/b", "assets/a/c", "assets/a-z", "x"] {
            s.check(n).unwrap();
            s.insert(n).unwrap();
        }
        s.check_clashes().unwrap();
        assert!(s.check("assets/a/b").unwrap_err().contains("duplicate"));
        assert!(s.insert("assets/a/b").unwrap_err().contains("duplicate"));
        for clash in ["assets/a", "assets/a/b/c", "x/", "x/y"] {
            assert!(s.check(clash).unwrap_err().contains("both"), "{clash}");
        }
        s.check("assets/a/").unwrap(); // a directory entry for an implied directory is fine
        s.check("assets/a.txt").unwrap();

        // The reader's order-independent pass.
        for names in [["a", "a/b"], ["a/b", "a"], ["a/", "a"]] {
            let mut s = NameSet::default();
            for n in names {
                s.insert(n).unwrap();
            }
            assert!(
                s.check_clashes().unwrap_err().contains("\"a\""),
                "{names:?}"
            );
        }
    }

    #[test]
    fn deep_names_cost_linear_time() {
        let deep = "a/".repeat(32_000) + "z";
        let mut s = NameSet::default();
        for i in 0..200 {
            s.insert(&format!("{deep}{i}")).unwrap();
        }
        s.check_clashes().unwrap();
    }
}
