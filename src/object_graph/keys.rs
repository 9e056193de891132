//! Local-name escaping and checkpoint keys (`tensorflow/python/trackable/trackable_utils.py`).
//!
//! ```text
//! <object path>/.ATTRIBUTES/<escape(attribute)>                                   attribute key
//! <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<escape(slot)>/.ATTRIBUTES/VARIABLE_VALUE
//! object path = "/".join(escape(local_name) for each edge from the root); the root's path is ""
//! ```
//! `escape` turns every `.` into `..` and every `/` into `.S`, so an escaped name never holds a `/`
//! nor a lone `.`. That is what makes the reserved components (`.ATTRIBUTES`, `.OPTIMIZER_SLOT`)
//! and the separators unambiguous, and why parsing can split on the first `/.ATTRIBUTES/`.

use crate::error::{Error, Result};

/// The bundle key holding the serialized `TrackableObjectGraph` (a DT_STRING scalar).
pub const OBJECT_GRAPH_PROTO_KEY: &str = "_CHECKPOINTABLE_OBJECT_GRAPH";
/// Separates an object's path from an attribute name in a key.
pub const OBJECT_ATTRIBUTES_NAME: &str = ".ATTRIBUTES";
/// Separates a variable's path from the optimizer's path in a legacy slot variable's path.
pub const OPTIMIZER_SLOTS_NAME: &str = ".OPTIMIZER_SLOT";
/// The attribute name of a variable's value.
pub const VARIABLE_VALUE_KEY: &str = "VARIABLE_VALUE";
/// `SERIALIZE_TO_TENSORS_NAME`: an attribute with this name gets an empty key suffix, so its
/// tensors' own names follow `/.ATTRIBUTES/` directly.
pub const SERIALIZE_TO_TENSORS_NAME: &str = ".TENSORS";

/// The separator searched for by TF's `extract_object_name` (there without the trailing slash;
/// the slash makes `/.ATTRIBUTESx` not match, which TF would also reject later).
const ATTRIBUTES_SEPARATOR: &str = "/.ATTRIBUTES/";
const SLOT_SEPARATOR: &str = "/.OPTIMIZER_SLOT/";

/// `name.replace(".", "..").replace("/", ".S")`, in one pass (the two replacements cannot
/// interfere because the first never produces a `/`).
pub fn escape_local_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + name.len() / 8);
    for c in name.chars() {
        match c {
            '.' => out.push_str(".."),
            '/' => out.push_str(".S"),
            c => out.push(c),
        }
    }
    out
}

/// The inverse of [`escape_local_name`]: scans left to right, `..` -> `.`, `.S` -> `/`.
///
/// A lone `.` (followed by anything else, or last) or a raw `/` cannot come out of
/// `escape_local_name`, so either one is [`Error::Corrupt`]: accepting them would make two
/// different keys name the same object.
pub fn unescape_local_name(escaped: &str) -> Result<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' => match chars.next() {
                Some('.') => out.push('.'),
                Some('S') => out.push('/'),
                Some(other) => {
                    return Err(Error::corrupt(format!(
                        "bad escape \".{other}\" in checkpoint name {escaped:?}"
                    )))
                }
                None => {
                    return Err(Error::corrupt(format!(
                        "checkpoint name {escaped:?} ends in a lone \".\""
                    )))
                }
            },
            '/' => {
                return Err(Error::corrupt(format!(
                    "escaped checkpoint name {escaped:?} contains a raw \"/\""
                )))
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `"/".join(escape(name) for name in path)`: TF's `object_path_to_string`. The root is `""`.
pub fn object_path_string<S: AsRef<str>>(path: &[S]) -> String {
    let mut out = String::new();
    for (i, name) in path.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&escape_local_name(name.as_ref()));
    }
    out
}

/// TF's `checkpoint_key(object_path, local_name)`:
/// `f"{object_path}/.ATTRIBUTES/{escape(local_name)}"`, with an empty suffix when `local_name` is
/// `".TENSORS"`.
///
/// `object_path` is already escaped (see [`object_path_string`]). The root object's path is `""`,
/// so its keys start with `/` (`"/.ATTRIBUTES/x"`), exactly as TF writes them. `local_name` is the
/// `SerializedTensor.name` as stored, which for `_serialize_to_tensors` objects is itself escaped
/// once already; the key then holds it escaped twice (tf_formats.md §4.3).
pub fn checkpoint_key(object_path: &str, attribute: &str) -> String {
    let suffix = if attribute == SERIALIZE_TO_TENSORS_NAME {
        String::new()
    } else {
        escape_local_name(attribute)
    };
    format!("{object_path}{ATTRIBUTES_SEPARATOR}{suffix}")
}

/// TF's `slot_variable_key`: the object path of a legacy optimizer's slot variable,
/// `f"{variable_path}/.OPTIMIZER_SLOT/{optimizer_path}/{escape(slot_name)}"`. Both paths are
/// already escaped. The slot variable's key is `checkpoint_key(this, "VARIABLE_VALUE")`.
pub fn slot_variable_path(variable_path: &str, optimizer_path: &str, slot_name: &str) -> String {
    format!(
        "{variable_path}{SLOT_SEPARATOR}{optimizer_path}/{}",
        escape_local_name(slot_name)
    )
}

/// What a checkpoint key names, with every local name unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// An object reached from the root by these local names (empty for the root itself).
    Object(Vec<String>),
    /// A legacy optimizer's slot variable: `variable/.OPTIMIZER_SLOT/optimizer/slot_name`.
    Slot {
        variable: Vec<String>,
        optimizer: Vec<String>,
        slot_name: String,
    },
}

/// A checkpoint key taken apart by [`parse_checkpoint_key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    pub owner: KeyOwner,
    /// The key suffix after `/.ATTRIBUTES/`, unescaped once: what TF stores as
    /// `SerializedTensor.name` (`"VARIABLE_VALUE"`; `"x..y.Sz"` for the tensor `"x.y/z"` of a
    /// `_serialize_to_tensors` object). An empty suffix (from `".TENSORS"`) gives `""`.
    pub attribute: String,
}

/// Splits an object-based checkpoint key into the owning object's path and the attribute.
///
/// Returns `Ok(None)` for keys that are not object-based checkpoint keys (no `/.ATTRIBUTES/`):
/// the object-graph key itself, TF1 name-based keys such as `dense/kernel`, the bundle header.
/// Returns [`Error::Corrupt`] for keys that claim to be checkpoint keys but hold a name that no
/// escaping produces (a lone `.`, a `.OPTIMIZER_SLOT` without a slot name, ...).
///
/// The first `/.ATTRIBUTES/` is the separator, as in TF's `extract_object_name`; escaped names
/// cannot contain it, so there is no ambiguity. A multi-tensor saveable's suffix (for example
/// `table-keys`) is returned as the attribute as it stands.
pub fn parse_checkpoint_key(key: &str) -> Result<Option<ParsedKey>> {
    let Some(at) = key.find(ATTRIBUTES_SEPARATOR) else {
        return Ok(None);
    };
    let object = &key[..at];
    let suffix = &key[at + ATTRIBUTES_SEPARATOR.len()..];
    let attribute = unescape_local_name(suffix).map_err(|e| e.for_key(key.as_bytes()))?;
    let owner = parse_object_path(object).map_err(|e| e.for_key(key.as_bytes()))?;
    Ok(Some(ParsedKey { owner, attribute }))
}

/// An escaped object path (everything before `/.ATTRIBUTES/`) -> its owner.
fn parse_object_path(object: &str) -> Result<KeyOwner> {
    // Searching for the separator with its leading slash finds the root-variable case
    // ("/.OPTIMIZER_SLOT/...") too, because `object` then starts with it.
    if let Some(at) = object.find(SLOT_SEPARATOR) {
        let variable = split_path(&object[..at])?;
        let rest = &object[at + SLOT_SEPARATOR.len()..];
        let Some(last) = rest.rfind('/') else {
            return Err(Error::corrupt(format!(
                "slot variable path {object:?} has no optimizer path before the slot name"
            )));
        };
        let optimizer = split_path(&rest[..last])?;
        let slot_name = unescape_local_name(&rest[last + 1..])?;
        return Ok(KeyOwner::Slot {
            variable,
            optimizer,
            slot_name,
        });
    }
    Ok(KeyOwner::Object(split_path(object)?))
}

/// `"a/b..c"` -> `["a", "b.c"]`; `""` is the root (no components). A reserved component such as
/// a second `.OPTIMIZER_SLOT` fails to unescape and so is rejected here.
fn split_path(path: &str) -> Result<Vec<String>> {
    if path.is_empty() {
        return Ok(Vec::new());
    }
    path.split('/').map(unescape_local_name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(path: &[&str]) -> KeyOwner {
        KeyOwner::Object(path.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn escapes_like_tf() {
        // tf_formats.md §4.3, each verified against TF.
        assert_eq!(escape_local_name("a/b.c"), "a.Sb..c");
        assert_eq!(escape_local_name("x..y//z"), "x....y.S.Sz");
        assert_eq!(escape_local_name("my.obj/1"), "my..obj.S1");
        assert_eq!(
            escape_local_name("layer_with_weights-0"),
            "layer_with_weights-0"
        );
        assert_eq!(escape_local_name(""), "");
        assert_eq!(escape_local_name("é/ü"), "é.Sü");
        assert_eq!(
            checkpoint_key(&escape_local_name("a/b.c"), VARIABLE_VALUE_KEY),
            "a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE"
        );
        assert_eq!(
            checkpoint_key(&escape_local_name("x..y//z"), VARIABLE_VALUE_KEY),
            "x....y.S.Sz/.ATTRIBUTES/VARIABLE_VALUE"
        );
    }

    #[test]
    fn double_escaping_of_serialized_tensor_names() {
        // A `_serialize_to_tensors` tensor "x.y/z" on child "my.obj/1": name escaped once,
        // key escaped twice.
        let name = escape_local_name("x.y/z");
        assert_eq!(name, "x..y.Sz");
        let key = checkpoint_key(&escape_local_name("my.obj/1"), &name);
        assert_eq!(key, "my..obj.S1/.ATTRIBUTES/x....y..Sz");
        let parsed = parse_checkpoint_key(&key).unwrap().unwrap();
        assert_eq!(parsed.owner, owner(&["my.obj/1"]));
        assert_eq!(parsed.attribute, "x..y.Sz");
        assert_eq!(unescape_local_name(&parsed.attribute).unwrap(), "x.y/z");
    }

    #[test]
    fn root_and_tensors_keys_match_tf_formatting() {
        assert_eq!(checkpoint_key("", "x"), "/.ATTRIBUTES/x");
        assert_eq!(
            checkpoint_key("t", SERIALIZE_TO_TENSORS_NAME),
            "t/.ATTRIBUTES/"
        );
        assert_eq!(checkpoint_key("t", "table"), "t/.ATTRIBUTES/table");
        let root = parse_checkpoint_key("/.ATTRIBUTES/x").unwrap().unwrap();
        assert_eq!(root.owner, owner(&[]));
        assert_eq!(root.attribute, "x");
        let empty = parse_checkpoint_key("t/.ATTRIBUTES/").unwrap().unwrap();
        assert_eq!(empty.attribute, "");
        assert_eq!(object_path_string::<&str>(&[]), "");
        assert_eq!(object_path_string(&["model", "a/b.c"]), "model/a.Sb..c");
    }

    #[test]
    fn round_trips() {
        for name in [
            "",
            ".",
            "..",
            "/",
            "//",
            "./",
            "/.",
            ".S",
            "S.",
            "a.b/c..d//e",
            "x..y//z",
        ] {
            let escaped = escape_local_name(name);
            assert!(!escaped.contains('/'), "{escaped}");
            assert_eq!(unescape_local_name(&escaped).unwrap(), name, "{escaped}");
            // Every "." in an escaped name is part of a pair.
            assert_eq!(
                escape_local_name(&unescape_local_name(&escaped).unwrap()),
                escaped
            );
        }
    }

    #[test]
    fn malformed_escapes_are_corrupt() {
        for bad in [
            ".",
            "a.",
            ".x",
            "a.b",
            ".ATTRIBUTES",
            ".OPTIMIZER_SLOT",
            "...",
            "a/b",
            ".s",
        ] {
            let err = unescape_local_name(bad).unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "{bad}: {err}");
        }
        assert_eq!(unescape_local_name("...S").unwrap(), "./");
        assert_eq!(unescape_local_name("....S").unwrap(), "..S");
    }

    #[test]
    fn parses_attribute_keys() {
        let p =
            parse_checkpoint_key("model/layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE")
                .unwrap()
                .unwrap();
        assert_eq!(p.owner, owner(&["model", "layer_with_weights-0", "kernel"]));
        assert_eq!(p.attribute, VARIABLE_VALUE_KEY);
        let p = parse_checkpoint_key("a.Sb..c/.ATTRIBUTES/VARIABLE_VALUE")
            .unwrap()
            .unwrap();
        assert_eq!(p.owner, owner(&["a/b.c"]));
        let p = parse_checkpoint_key("t/.ATTRIBUTES/table-keys")
            .unwrap()
            .unwrap();
        assert_eq!(p.attribute, "table-keys");
    }

    #[test]
    fn parses_slot_keys() {
        let key = "model/layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE";
        let p = parse_checkpoint_key(key).unwrap().unwrap();
        assert_eq!(
            p.owner,
            KeyOwner::Slot {
                variable: vec![
                    "model".into(),
                    "layer_with_weights-0".into(),
                    "kernel".into()
                ],
                optimizer: vec!["optimizer".into()],
                slot_name: "m".into(),
            }
        );
        assert_eq!(p.attribute, VARIABLE_VALUE_KEY);
        // Built the way TF builds it.
        let path = slot_variable_path("model/layer_with_weights-0/kernel", "optimizer", "m");
        assert_eq!(checkpoint_key(&path, VARIABLE_VALUE_KEY), key);
        // Escaped slot names and nested optimizer paths.
        let key = "v/.OPTIMIZER_SLOT/a/opt/s..1/.ATTRIBUTES/VARIABLE_VALUE";
        let p = parse_checkpoint_key(key).unwrap().unwrap();
        assert_eq!(
            p.owner,
            KeyOwner::Slot {
                variable: vec!["v".into()],
                optimizer: vec!["a".into(), "opt".into()],
                slot_name: "s.1".into(),
            }
        );
        assert_eq!(
            checkpoint_key(&slot_variable_path("v", "a/opt", "s.1"), VARIABLE_VALUE_KEY),
            key
        );
    }

    #[test]
    fn non_checkpoint_keys_are_none() {
        for key in [
            "",
            OBJECT_GRAPH_PROTO_KEY,
            "dense/kernel",
            ".ATTRIBUTES/x",
            "a/.ATTRIBUTESx",
            "a/.ATTRIBUTES",
        ] {
            assert_eq!(parse_checkpoint_key(key).unwrap(), None, "{key}");
        }
    }

    #[test]
    fn malformed_checkpoint_keys_are_corrupt() {
        for key in [
            "a./.ATTRIBUTES/VARIABLE_VALUE",
            "a/.x/.ATTRIBUTES/VARIABLE_VALUE",
            "a/.ATTRIBUTES/b.c",
            "a/.ATTRIBUTES/b/c",
            "v/.OPTIMIZER_SLOT/m/.ATTRIBUTES/VARIABLE_VALUE",
            "v/.OPTIMIZER_SLOT/o/.OPTIMIZER_SLOT/p/m/.ATTRIBUTES/VARIABLE_VALUE",
        ] {
            let err = parse_checkpoint_key(key).unwrap_err();
            assert!(matches!(err, Error::Corrupt { .. }), "{key}: {err}");
            assert!(err.to_string().contains(key), "{err}");
        }
    }
}
