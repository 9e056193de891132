//! The `checkpoint` state file: which prefix in a directory is the latest (tf_formats.md §3).
//!
//! ```text
//! dir/checkpoint   protobuf text format of tensorflow.CheckpointState, e.g.
//!   model_checkpoint_path: "ckpt-3"                      <- latest (relative to dir, or absolute)
//!   all_model_checkpoint_paths: "ckpt-2"
//!   all_model_checkpoint_paths: "ckpt-3"
//!   all_model_checkpoint_timestamps: 1795367741.9157841  <- CheckpointManager only
//!   last_preserved_timestamp: 1795367740.9010434
//! dir/ckpt-3.index, dir/ckpt-3.data-00000-of-00001       <- the bundle it names
//! ```
//! TF reads and writes the file with Python's `text_format`, so this module follows that
//! implementation: [`format_state`] prints what `text_format.MessageToString` prints (octal
//! escapes, Python `repr` for doubles), and [`parse_state`] accepts what `text_format.Merge`
//! accepts for this message (comments, `;`/`,` separators, `[a, b]` lists, adjacent string
//! literals, a repeated singular field keeps the last value) and rejects unknown fields.
//! The structure is plain Rust, independent of the generated protos, because it is tiny.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::naming::{index_path, strip_data_suffix};
use crate::error::{Error, Result};

/// The state file's default name inside a checkpoint directory (`latest_filename` in TF).
pub const STATE_FILE_NAME: &str = "checkpoint";

/// `tensorflow.CheckpointState`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckpointState {
    /// The latest checkpoint prefix; relative paths are relative to the directory.
    pub model_checkpoint_path: String,
    /// Every checkpoint still kept, oldest first (the latest is last).
    pub all_model_checkpoint_paths: Vec<String>,
    /// Seconds since the epoch, parallel to `all_model_checkpoint_paths` (CheckpointManager).
    pub all_model_checkpoint_timestamps: Vec<f64>,
    /// Time of the last checkpoint kept by `keep_checkpoint_every_n_hours`.
    pub last_preserved_timestamp: f64,
}

/// Parses the text format. Errors are [`Error::Corrupt`] with `line:column`.
pub fn parse_state(text: &str) -> Result<CheckpointState> {
    let mut p = Parser {
        lex: Lexer { text, pos: 0 },
        peeked: None,
    };
    let mut state = CheckpointState::default();
    while let Some((at, tok)) = p.next()? {
        let name = match tok {
            Tok::Word(w) if w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => w,
            other => return Err(p.error(at, &format!("expected a field name, found {other}"))),
        };
        let field = match name {
            "model_checkpoint_path" => Field::Path,
            "all_model_checkpoint_paths" => Field::AllPaths,
            "all_model_checkpoint_timestamps" => Field::Timestamps,
            "last_preserved_timestamp" => Field::LastPreserved,
            _ => {
                return Err(p.error(
                    at,
                    &format!(
                        "message type \"tensorflow.CheckpointState\" has no field named \"{name}\""
                    ),
                ))
            }
        };
        p.expect(':', name)?;
        let repeated = matches!(field, Field::AllPaths | Field::Timestamps);
        if repeated && p.try_punct('[')? {
            if !p.try_punct(']')? {
                loop {
                    p.value(field, &mut state)?;
                    if p.try_punct(']')? {
                        break;
                    }
                    p.expect(',', "list")?;
                }
            }
        } else {
            p.value(field, &mut state)?;
        }
        if !p.try_punct(',')? {
            p.try_punct(';')?;
        }
    }
    Ok(state)
}

/// Prints the state exactly as TF's Python `text_format.MessageToString` does: one
/// `name: value` line per set field in field-number order; proto3 defaults (an empty path, a
/// zero `last_preserved_timestamp`) are left out.
pub fn format_state(state: &CheckpointState) -> String {
    let mut out = String::new();
    if !state.model_checkpoint_path.is_empty() {
        let _ = writeln!(
            out,
            "model_checkpoint_path: \"{}\"",
            escape(&state.model_checkpoint_path)
        );
    }
    for p in &state.all_model_checkpoint_paths {
        let _ = writeln!(out, "all_model_checkpoint_paths: \"{}\"", escape(p));
    }
    for t in &state.all_model_checkpoint_timestamps {
        let _ = writeln!(out, "all_model_checkpoint_timestamps: {}", python_repr(*t));
    }
    // Implicit presence compares bits, so -0.0 is printed and +0.0 is not.
    if state.last_preserved_timestamp.to_bits() != 0 {
        let _ = writeln!(
            out,
            "last_preserved_timestamp: {}",
            python_repr(state.last_preserved_timestamp)
        );
    }
    out
}

/// Writes `dir/checkpoint` atomically (temp file + rename), like TF's
/// `atomic_write_string_to_file`.
pub fn write_state(dir: &Path, state: &CheckpointState) -> Result<()> {
    crate::io::write_atomic(&dir.join(STATE_FILE_NAME), format_state(state).as_bytes())
}

/// Reads `dir/checkpoint` as stored (paths not joined to `dir`). Like TF's
/// `get_checkpoint_state`, a missing or unreadable file, one that is not UTF-8 or one that does
/// not parse gives `Ok(None)` (TF only logs a warning).
pub fn read_state(dir: &Path) -> Result<Option<CheckpointState>> {
    let Ok(bytes) = std::fs::read(dir.join(STATE_FILE_NAME)) else {
        return Ok(None);
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(None);
    };
    Ok(parse_state(&text).ok())
}

/// `tf.train.latest_checkpoint(dir)`: the prefix named by `dir/checkpoint`, joined to `dir` if
/// relative, provided `<prefix>.index` exists.
///
/// `Ok(None)` when the state file is missing or unparseable, or when the named checkpoint has
/// no `.index` (TF also accepts a V1 checkpoint file named exactly like the prefix; V1 is not
/// supported here, so it is not looked for). An empty `model_checkpoint_path` is an error, as in
/// TF. TF matches the path as a glob pattern; it is taken literally here, so a prefix with `*`,
/// `?` or `[` only matches itself.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<PathBuf>> {
    let Some(state) = read_state(dir)? else {
        return Ok(None);
    };
    if state.model_checkpoint_path.is_empty() {
        return Err(
            Error::corrupt("invalid checkpoint state: model_checkpoint_path is empty")
                .in_file(&dir.join(STATE_FILE_NAME)),
        );
    }
    let prefix = dir.join(&state.model_checkpoint_path);
    Ok(index_path(&prefix).exists().then_some(prefix))
}

/// Turns what a user may pass for "a checkpoint" into its prefix `P`:
/// * a directory: [`latest_checkpoint`]; if the directory has no state file at all, the one
///   `*.index` file in it (a SavedModel's `variables/` dir, a `Checkpoint.write()` output);
/// * `P` itself, when `P.index` exists;
/// * `P.index` or `P.data-SSSSS-of-NNNNN`.
///
/// Anything else is [`Error::Io`] with [`io::ErrorKind::NotFound`] (Python `FileNotFoundError`).
/// File names that are not UTF-8 are only accepted in the `P` form.
pub fn resolve_prefix(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        return resolve_dir(path);
    }
    if index_path(path).exists() {
        return Ok(path.to_path_buf());
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let stem = name
        .strip_suffix(".index")
        .or_else(|| strip_data_suffix(name));
    if let Some(stem) = stem.filter(|s| !s.is_empty()) {
        let prefix = path.with_file_name(stem);
        let index = index_path(&prefix);
        if index.exists() {
            return Ok(prefix);
        }
        return Err(not_found(
            &index,
            "no such file (the index of the checkpoint named)",
        ));
    }
    Err(not_found(
        &index_path(path),
        "no such file: not a checkpoint prefix, directory, .index or .data file",
    ))
}

fn resolve_dir(dir: &Path) -> Result<PathBuf> {
    if let Some(prefix) = latest_checkpoint(dir)? {
        return Ok(prefix);
    }
    let state_file = dir.join(STATE_FILE_NAME);
    if state_file.exists() {
        // `latest_checkpoint` follows TF and says nothing about *why* it found nothing; a user
        // who asked to open this directory deserves to know whether the state file is damaged
        // or merely points at a checkpoint that is gone.
        let bytes = std::fs::read(&state_file).map_err(|e| Error::io(&state_file, e))?;
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|_| Error::corrupt("checkpoint state file is not UTF-8 text"))
            .and_then(parse_state);
        if let Err(e) = parsed {
            return Err(e.in_file(&state_file));
        }
        return Err(not_found(
            &state_file,
            "the state file names a checkpoint whose .index does not exist",
        ));
    }
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut stems = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".index")) {
            if !stem.is_empty() {
                stems.push(stem.to_owned());
            }
        }
    }
    stems.sort();
    match stems.as_slice() {
        [one] => Ok(dir.join(one)),
        [] => Err(not_found(
            dir,
            "no 'checkpoint' state file and no *.index file in this directory",
        )),
        many => Err(not_found(
            dir,
            &format!(
                "no 'checkpoint' state file and {} *.index files ({}); pass a prefix",
                many.len(),
                many.join(", ")
            ),
        )),
    }
}

fn not_found(path: &Path, why: &str) -> Error {
    Error::io(
        path,
        io::Error::new(io::ErrorKind::NotFound, why.to_owned()),
    )
}

// ---------------------------------------------------------------------------------------------
// Text format: printing

/// Python `text_encoding.CEscape(s, as_utf8=True)`, the default of `MessageToString` in the
/// protobuf runtime TF 2.21 ships with: non-ASCII characters as they are, printable ASCII as is
/// (quotes and backslash escaped), `\n \r \t` by name, other control characters as 3-digit
/// octal. (Older runtimes octal-escaped every non-ASCII byte; [`parse_state`] reads both.)
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\0'..='\x1f' | '\x7f' => {
                let _ = write!(out, "\\{:03o}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the
/// decimal exponent is in -4..=15 (always with a fractional part, "5.0"), else scientific with
/// a signed two-digit-minimum exponent ("1e+16", "1.5e-07").
fn python_repr(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` prints the shortest round-trip digits as "d.ddde<exp>".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if v < 0.0 { "-" } else { "" };
    if (-4..16).contains(&exp) {
        if exp >= 0 {
            let point = exp as usize + 1;
            let (int, frac) = if digits.len() > point {
                (digits[..point].to_owned(), digits[point..].to_owned())
            } else {
                (format!("{digits:0<point$}"), "0".to_owned())
            };
            format!("{sign}{int}.{frac}")
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else {
        let (first, rest) = digits.split_at(1.min(digits.len()));
        let frac = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{first}{frac}e{esign}{:02}", exp.unsigned_abs())
    }
}

// ---------------------------------------------------------------------------------------------
// Text format: parsing

#[derive(Clone, Copy)]
enum Field {
    Path,
    AllPaths,
    Timestamps,
    LastPreserved,
}

#[derive(Debug)]
enum Tok<'a> {
    /// An identifier or a number (Python's tokenizer lumps `[0-9a-zA-Z_.+-]` runs together).
    Word(&'a str),
    /// A string literal, unescaped.
    Str(Vec<u8>),
    Punct(char),
}

impl std::fmt::Display for Tok<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "\"{w}\""),
            Tok::Str(_) => write!(f, "a string"),
            Tok::Punct(c) => write!(f, "'{c}'"),
        }
    }
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn skip_space(&mut self) {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with('#') {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else {
                return;
            }
        }
    }

    fn token(&mut self) -> std::result::Result<Option<(usize, Tok<'a>)>, (usize, String)> {
        self.skip_space();
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(None);
        };
        if c == '"' || c == '\'' {
            let (bytes, len) = unescape_literal(rest).map_err(|(off, why)| (start + off, why))?;
            self.pos += len;
            return Ok(Some((start, Tok::Str(bytes))));
        }
        if is_word_char(c) {
            let len = rest.find(|c: char| !is_word_char(c)).unwrap_or(rest.len());
            self.pos += len;
            return Ok(Some((start, Tok::Word(&rest[..len]))));
        }
        if ":[],;{}<>".contains(c) {
            self.pos += 1;
            return Ok(Some((start, Tok::Punct(c))));
        }
        Err((start, format!("unexpected character {c:?}")))
    }
}

/// Decodes a quoted literal at the start of `s`; returns its bytes and the literal's length.
/// Escapes: `\n \t \r \a \b \f \v \\ \' \"`, octal `\o`..`\ooo` (at most 255), `\xH`/`\xHH`,
/// `\uXXXX` and `\UXXXXXXXX` (as UTF-8). Like Python's parser, an unknown escape such as `\q`
/// is kept as the two characters.
fn unescape_literal(s: &str) -> std::result::Result<(Vec<u8>, usize), (usize, String)> {
    let bytes = s.as_bytes();
    let quote = bytes.first().copied().unwrap_or(b'"');
    let mut out = Vec::new();
    let mut i = 1;
    loop {
        let Some(&b) = bytes.get(i) else {
            return Err((0, "string literal is not terminated".into()));
        };
        match b {
            b'\n' => {
                return Err((
                    0,
                    "string literal is not terminated before the end of the line".into(),
                ))
            }
            _ if b == quote => return Ok((out, i + 1)),
            b'\\' => {
                let Some(&e) = bytes.get(i + 1) else {
                    return Err((i, "backslash at the end of the input".into()));
                };
                i += 2;
                match e {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'v' => out.push(0x0b),
                    b'\\' | b'\'' | b'"' => out.push(e),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match bytes.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        let v = u8::try_from(v)
                            .map_err(|_| (i, format!("octal escape \\{v:o} is above \\377")))?;
                        out.push(v);
                    }
                    b'x' | b'u' | b'U' => {
                        let max = match e {
                            b'x' => 2,
                            b'u' => 4,
                            _ => 8,
                        };
                        let hex: &[u8] = bytes.get(i..).unwrap_or(&[]);
                        let n = hex
                            .iter()
                            .take(max)
                            .take_while(|d| d.is_ascii_hexdigit())
                            .count();
                        if n == 0 || (e != b'x' && n != max) {
                            return Err((i, format!("bad \\{} escape", e as char)));
                        }
                        let digits = std::str::from_utf8(&hex[..n]).unwrap_or("0");
                        let v = u32::from_str_radix(digits, 16).unwrap_or(0);
                        i += n;
                        if e == b'x' {
                            out.push(v as u8); // at most 0xff
                        } else {
                            let c = char::from_u32(v).ok_or_else(|| {
                                (
                                    i,
                                    format!("\\{} escape {v:#x} is not a character", e as char),
                                )
                            })?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                    }
                    _ => {
                        // Keep the backslash and re-read the next byte as an ordinary character
                        // (it may start a multi-byte UTF-8 sequence).
                        out.push(b'\\');
                        i -= 1;
                    }
                }
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
}

struct Parser<'a> {
    lex: Lexer<'a>,
    peeked: Option<Option<(usize, Tok<'a>)>>,
}

impl<'a> Parser<'a> {
    fn error(&self, at: usize, why: &str) -> Error {
        let before = self.lex.text.get(..at).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Error::corrupt(format!("checkpoint state text format, {line}:{col}: {why}"))
    }

    fn next(&mut self) -> Result<Option<(usize, Tok<'a>)>> {
        if let Some(t) = self.peeked.take() {
            return Ok(t);
        }
        self.lex.token().map_err(|(at, why)| self.error(at, &why))
    }

    fn peek(&mut self) -> Result<Option<&(usize, Tok<'a>)>> {
        if self.peeked.is_none() {
            let t = self.next()?;
            self.peeked = Some(t);
        }
        Ok(self.peeked.as_ref().and_then(|t| t.as_ref()))
    }

    fn try_punct(&mut self, c: char) -> Result<bool> {
        if matches!(self.peek()?, Some((_, Tok::Punct(p))) if *p == c) {
            self.peeked = None;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, c: char, after: &str) -> Result<()> {
        match self.next()? {
            Some((_, Tok::Punct(p))) if p == c => Ok(()),
            Some((at, t)) => {
                Err(self.error(at, &format!("expected '{c}' after {after}, found {t}")))
            }
            None => Err(self.error(
                self.lex.text.len(),
                &format!("expected '{c}' after {after}"),
            )),
        }
    }

    /// One value of `field`, stored into `state` (singular fields: the last one wins, as with
    /// `text_format.Merge`).
    fn value(&mut self, field: Field, state: &mut CheckpointState) -> Result<()> {
        match field {
            Field::Path | Field::AllPaths => {
                let s = self.string()?;
                match field {
                    Field::Path => state.model_checkpoint_path = s,
                    _ => state.all_model_checkpoint_paths.push(s),
                }
            }
            Field::Timestamps | Field::LastPreserved => {
                let v = self.double()?;
                match field {
                    Field::Timestamps => state.all_model_checkpoint_timestamps.push(v),
                    _ => state.last_preserved_timestamp = v,
                }
            }
        }
        Ok(())
    }

    /// One or more adjacent string literals, concatenated; must be UTF-8 (proto3 `string`).
    fn string(&mut self) -> Result<String> {
        let (at, first) = match self.next()? {
            Some((at, Tok::Str(b))) => (at, b),
            Some((at, t)) => return Err(self.error(at, &format!("expected a string, found {t}"))),
            None => return Err(self.error(self.lex.text.len(), "expected a string")),
        };
        let mut bytes = first;
        while let Some((_, Tok::Str(_))) = self.peek()? {
            if let Some((_, Tok::Str(more))) = self.next()? {
                bytes.extend_from_slice(&more);
            }
        }
        String::from_utf8(bytes).map_err(|_| self.error(at, "string is not valid UTF-8"))
    }

    /// A double the way Python's `ParseFloat` reads one: anything `float()` takes, `inf`,
    /// `infinity`, `nan` in any case, and an optional trailing `f`.
    fn double(&mut self) -> Result<f64> {
        let (at, word) = match self.next()? {
            Some((at, Tok::Word(w))) => (at, w),
            Some((at, t)) => return Err(self.error(at, &format!("expected a number, found {t}"))),
            None => return Err(self.error(self.lex.text.len(), "expected a number")),
        };
        let parse = |w: &str| w.parse::<f64>().ok();
        parse(word)
            .or_else(|| word.strip_suffix(['f', 'F']).and_then(parse))
            .ok_or_else(|| self.error(at, &format!("couldn't parse float: {word}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const MANAGER: &str = "model_checkpoint_path: \"ckpt-3\"\n\
        all_model_checkpoint_paths: \"ckpt-2\"\n\
        all_model_checkpoint_paths: \"ckpt-3\"\n\
        all_model_checkpoint_timestamps: 1795367741.9157841\n\
        all_model_checkpoint_timestamps: 1795367741.920386\n\
        last_preserved_timestamp: 1795367740.9010434\n";

    #[test]
    fn tf_example_round_trips_byte_for_byte() {
        let s = parse_state(MANAGER).unwrap();
        assert_eq!(s.model_checkpoint_path, "ckpt-3");
        assert_eq!(s.all_model_checkpoint_paths, ["ckpt-2", "ckpt-3"]);
        assert_eq!(
            s.all_model_checkpoint_timestamps,
            [1795367741.9157841, 1795367741.920386]
        );
        assert_eq!(s.last_preserved_timestamp, 1795367740.9010434);
        assert_eq!(format_state(&s), MANAGER);
    }

    #[test]
    fn defaults_are_omitted() {
        assert_eq!(format_state(&CheckpointState::default()), "");
        let s = CheckpointState {
            model_checkpoint_path: "ckpt-1".into(),
            all_model_checkpoint_paths: vec!["ckpt-1".into()],
            ..Default::default()
        };
        let text = format_state(&s);
        assert_eq!(
            text,
            "model_checkpoint_path: \"ckpt-1\"\nall_model_checkpoint_paths: \"ckpt-1\"\n"
        );
        assert_eq!(parse_state(&text).unwrap(), s);
        assert_eq!(parse_state("").unwrap(), CheckpointState::default());
    }

    #[test]
    fn doubles_print_like_python_repr() {
        for (v, s) in [
            (5.0, "5.0"),
            (1795367740.0, "1795367740.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e300, "1e+300"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (1795367741.9157841, "1795367741.9157841"),
        ] {
            assert_eq!(python_repr(v), s, "{v:?}");
            if !v.is_nan() {
                let back: f64 = s.parse().unwrap();
                assert_eq!(back.to_bits(), v.to_bits());
            }
        }
    }

    #[test]
    fn strings_escape_like_python_and_round_trip() {
        let s = CheckpointState {
            model_checkpoint_path: "a\"b'c\\d\ne\tf\rg\u{7}é/日".into(),
            ..Default::default()
        };
        let text = format_state(&s);
        // What protobuf 7.36 `text_format.MessageToString` prints for the same message.
        assert_eq!(
            text,
            "model_checkpoint_path: \"a\\\"b\\'c\\\\d\\ne\\tf\\rg\\007é/日\"\n"
        );
        assert_eq!(parse_state(&text).unwrap(), s);
        let s = CheckpointState {
            model_checkpoint_path: "\x7f\x1f\u{80}\u{a0}\u{2028}\u{1F600} ".into(),
            all_model_checkpoint_paths: vec![String::new()],
            ..Default::default()
        };
        let text = format_state(&s);
        assert_eq!(
            text,
            "model_checkpoint_path: \"\\177\\037\u{80}\u{a0}\u{2028}\u{1F600} \"\n\
             all_model_checkpoint_paths: \"\"\n"
        );
        assert_eq!(parse_state(&text).unwrap(), s);
        // Older runtimes escaped every non-ASCII byte in octal; that reads back the same.
        let old = "model_checkpoint_path: \"\\303\\251/\\346\\227\\245\"";
        assert_eq!(parse_state(old).unwrap().model_checkpoint_path, "é/日");
    }

    #[test]
    fn parser_accepts_text_format_variants() {
        let text = "# a comment\n\
            model_checkpoint_path :'x' \"y\" ; # trailing\n\
            all_model_checkpoint_paths: [\"a\", 'b']\n\
            all_model_checkpoint_timestamps: [1, -2.5e3, inf, -Infinity, 1.5f]\n\
            all_model_checkpoint_timestamps: []\n\
            last_preserved_timestamp: 3,\n\
            last_preserved_timestamp: 4\n\
            all_model_checkpoint_paths: \"\\x41\\101\\u00e9\\q日\"";
        let s = parse_state(text).unwrap();
        assert_eq!(s.model_checkpoint_path, "xy");
        assert_eq!(s.all_model_checkpoint_paths, ["a", "b", "AAé\\q日"]);
        assert_eq!(
            s.all_model_checkpoint_timestamps,
            [1.0, -2500.0, f64::INFINITY, f64::NEG_INFINITY, 1.5]
        );
        assert_eq!(s.last_preserved_timestamp, 4.0);
        assert!(parse_state("last_preserved_timestamp: nan")
            .unwrap()
            .last_preserved_timestamp
            .is_nan());
    }

    #[test]
    fn parser_rejects_what_tf_rejects() {
        for bad in [
            "unknown_field: 1",
            "model_checkpoint_path \"x\"",    // scalar fields need ':'
            "model_checkpoint_path: [\"x\"]", // list syntax on a singular field
            "model_checkpoint_path: 1",
            "model_checkpoint_path: \"x",
            "model_checkpoint_path: \"x\ny\"",
            "model_checkpoint_path: \"\\777\"",
            "model_checkpoint_path: \"\\xzz\"",
            "model_checkpoint_path: \"\\u12\"",
            "model_checkpoint_path: \"\\377\"", // not UTF-8
            "last_preserved_timestamp: abc",
            "last_preserved_timestamp: \"1\"",
            "all_model_checkpoint_paths: [\"a\" \"b\"",
            "all_model_checkpoint_paths: [\"a\",]",
            "model_checkpoint_path: {}",
            "model_checkpoint_path:",
            "\"x\"",
            "model_checkpoint_path: \"x\" @",
        ] {
            let e = parse_state(bad).unwrap_err().to_string();
            assert!(e.contains("checkpoint state text format"), "{bad}: {e}");
        }
        let e = parse_state("\n  foo: 1").unwrap_err().to_string();
        assert!(
            e.contains("2:3:") && e.contains("no field named \"foo\""),
            "{e}"
        );
    }

    #[test]
    fn write_and_latest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(latest_checkpoint(d).unwrap(), None); // no state file
        let state = CheckpointState {
            model_checkpoint_path: "ckpt-2".into(),
            all_model_checkpoint_paths: vec!["ckpt-1".into(), "ckpt-2".into()],
            ..Default::default()
        };
        write_state(d, &state).unwrap();
        assert_eq!(read_state(d).unwrap(), Some(state.clone()));
        assert_eq!(fs::read_dir(d).unwrap().count(), 1); // no temp file left
        assert_eq!(latest_checkpoint(d).unwrap(), None); // no ckpt-2.index yet
        fs::write(d.join("ckpt-2.index"), b"").unwrap();
        assert_eq!(latest_checkpoint(d).unwrap(), Some(d.join("ckpt-2")));

        // Absolute paths are kept as they are.
        let other = tempfile::tempdir().unwrap();
        let abs = other.path().join("model.ckpt");
        fs::write(index_path(&abs), b"").unwrap();
        let state = CheckpointState {
            model_checkpoint_path: abs.to_str().unwrap().into(),
            ..Default::default()
        };
        write_state(d, &state).unwrap();
        assert_eq!(latest_checkpoint(d).unwrap(), Some(abs));

        // Unparseable or non-UTF-8 -> None; empty path -> error.
        fs::write(d.join("checkpoint"), b"garbage here").unwrap();
        assert_eq!(latest_checkpoint(d).unwrap(), None);
        fs::write(d.join("checkpoint"), b"model_checkpoint_path: \"\xff\"").unwrap();
        assert_eq!(latest_checkpoint(d).unwrap(), None);
        fs::write(
            d.join("checkpoint"),
            b"all_model_checkpoint_paths: \"ckpt-2\"\n",
        )
        .unwrap();
        let e = latest_checkpoint(d).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }));
        assert!(
            e.to_string().contains("model_checkpoint_path is empty"),
            "{e}"
        );
        // A state file that is a directory is "unreadable".
        let nested = d.join("nested");
        fs::create_dir_all(nested.join("checkpoint")).unwrap();
        assert_eq!(latest_checkpoint(&nested).unwrap(), None);
    }

    fn is_not_found(e: &Error) -> bool {
        matches!(e, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }

    #[test]
    fn resolve_prefix_forms() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let p = d.join("model.ckpt-7");
        fs::write(index_path(&p), b"").unwrap();
        fs::write(d.join("model.ckpt-7.data-00000-of-00001"), b"").unwrap();

        assert_eq!(resolve_prefix(&p).unwrap(), p);
        assert_eq!(resolve_prefix(&d.join("model.ckpt-7.index")).unwrap(), p);
        assert_eq!(
            resolve_prefix(&d.join("model.ckpt-7.data-00000-of-00001")).unwrap(),
            p
        );
        // Even a shard that is not there names the same prefix.
        assert_eq!(
            resolve_prefix(&d.join("model.ckpt-7.data-00003-of-00004")).unwrap(),
            p
        );
        // Directory without a state file: the single .index.
        assert_eq!(resolve_prefix(d).unwrap(), p);

        let e = resolve_prefix(&d.join("missing")).unwrap_err();
        assert!(is_not_found(&e), "{e}");
        assert!(e.to_string().contains("missing.index"), "{e}");
        let e = resolve_prefix(&d.join("missing.index")).unwrap_err();
        assert!(
            is_not_found(&e) && e.to_string().contains("missing.index"),
            "{e}"
        );
        let e = resolve_prefix(&d.join("missing.data-00000-of-00001")).unwrap_err();
        assert!(
            is_not_found(&e) && e.to_string().contains("missing.index"),
            "{e}"
        );

        // Two .index files and no state file: ambiguous.
        fs::write(d.join("other.index"), b"").unwrap();
        let e = resolve_prefix(d).unwrap_err();
        assert!(
            is_not_found(&e) && e.to_string().contains("2 *.index files"),
            "{e}"
        );

        // With a state file, it decides.
        write_state(
            d,
            &CheckpointState {
                model_checkpoint_path: "other".into(),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(resolve_prefix(d).unwrap(), d.join("other"));
        // A state file naming a missing checkpoint is an error, not a guess.
        write_state(
            d,
            &CheckpointState {
                model_checkpoint_path: "gone".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let e = resolve_prefix(d).unwrap_err();
        assert!(
            is_not_found(&e) && e.to_string().contains("checkpoint"),
            "{e}"
        );

        // An empty directory.
        let empty = tempfile::tempdir().unwrap();
        let e = resolve_prefix(empty.path()).unwrap_err();
        assert!(
            is_not_found(&e) && e.to_string().contains("no *.index"),
            "{e}"
        );
    }

    /// The state files TF wrote for the fixtures print back byte for byte, and name a
    /// checkpoint that exists.
    #[test]
    fn tf_written_state_files_round_trip() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tf");
        let Ok(dirs) = fs::read_dir(&root) else {
            return;
        };
        let mut seen = 0;
        for dir in dirs.flatten().map(|e| e.path()) {
            let Ok(text) = fs::read_to_string(dir.join(STATE_FILE_NAME)) else {
                continue;
            };
            let state = parse_state(&text).unwrap();
            assert_eq!(format_state(&state), text, "{}", dir.display());
            let latest = latest_checkpoint(&dir)
                .unwrap()
                .expect("latest checkpoint exists");
            assert_eq!(resolve_prefix(&dir).unwrap(), latest);
            seen += 1;
        }
        eprintln!("{seen} TF-written state files round-tripped");
    }
}
