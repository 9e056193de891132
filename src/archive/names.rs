//! Member names: decoding as Python's `zipfile` does, and the rules that keep extraction inside
//! its target directory.

use std::collections::HashSet;

use crate::error::{Error, Result};

/// CP437, bytes 0x80..=0xFF: names without the UTF-8 flag (bit 11) are in this code page
/// (APPNOTE appendix D); `zipfile` decodes them so, and `namelist()` must agree with us.
const CP437_HIGH: &str = "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐\
└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u{a0}";

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
                .chars()
                .nth(usize::from(b - 0x80))
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
#[derive(Default)]
pub struct NameSet {
    all: HashSet<String>,
    files: HashSet<String>,
    dirs: HashSet<String>,
}

impl NameSet {
    /// Whether `name` (already passed by [`check_member_name`]) could be added; the reason if not.
    pub fn check(&self, name: &str) -> std::result::Result<(), String> {
        if self.all.contains(name) {
            return Err(format!("duplicate member name {name:?}"));
        }
        let (body, is_dir) = split_dir(name);
        let clash = self.files.contains(body)
            || (!is_dir && self.dirs.contains(body))
            || parents(body).any(|p| self.files.contains(p));
        if clash {
            return Err(format!(
                "member name {name:?} is both a file and a directory"
            ));
        }
        Ok(())
    }

    /// Adds `name` if [`NameSet::check`] allows it.
    pub fn insert(&mut self, name: &str) -> std::result::Result<(), String> {
        self.check(name)?;
        let (body, is_dir) = split_dir(name);
        self.dirs.extend(parents(body).map(str::to_string));
        if is_dir {
            self.dirs.insert(body.to_string());
        } else {
            self.files.insert(body.to_string());
        }
        self.all.insert(name.to_string());
        Ok(())
    }
}

/// `("a/b", true)` for the directory entry `"a/b/"`, `("a/b", false)` for the file `"a/b"`.
fn split_dir(name: &str) -> (&str, bool) {
    match name.strip_suffix('/') {
        Some(body) => (body, true),
        None => (name, false),
    }
}

/// `"a"`, `"a/b"` for `"a/b/c"`.
fn parents(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(|(i, _)| path.get(..i).unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp437_matches_python() {
        assert_eq!(CP437_HIGH.chars().count(), 128);
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
        s.insert("assets/").unwrap();
        s.insert("assets/a/b").unwrap();
        s.insert("assets/a/c").unwrap();
        assert!(s.insert("assets/a/b").unwrap_err().contains("duplicate"));
        assert!(s.insert("assets/a").unwrap_err().contains("both"));
        assert!(s.insert("assets/a/b/c").unwrap_err().contains("both"));
        s.insert("x").unwrap();
        assert!(s.insert("x/").unwrap_err().contains("both"));
        s.insert("assets/a/").unwrap(); // a directory entry for an implied directory is fine
    }
}
