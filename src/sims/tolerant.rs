//! A tolerant JSON reader: every visitor here accepts any JSON kind, so serde never builds
//! an error that quotes a value. Objects are read field by field through [`Fields`], with
//! names matched ignoring case and underscores; strings of secret fields go straight into
//! a `SecretString`. Problems are described by field name and kind, never by value.

use std::fmt;
use std::marker::PhantomData;

use secrecy::SecretString;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// The fields of one kind of JSON object, gathered one at a time.
pub(super) trait Fields: Default {
    /// What one object is, for messages (`site`, `client`).
    const WHAT: &'static str;
    /// What the object becomes.
    type Output;
    /// Reads the value of the field named `key`, skipping unknown fields.
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
    /// Builds the output, or says which field was wrong.
    fn finish(self) -> Result<Self::Output, String>;
}

/// True when `key` is `name` ignoring ASCII case and underscores (`name` is lower-case).
pub(super) fn key_is(key: &str, name: &str) -> bool {
    let mut key_chars = key.bytes().filter(|b| *b != b'_');
    let mut name_chars = name.bytes();
    loop {
        match (key_chars.next(), name_chars.next()) {
            (None, None) => return true,
            (Some(k), Some(n)) if k.to_ascii_lowercase() == n => {}
            _ => return false,
        }
    }
}

/// Reads one map key without allocating when the input allows it.
struct KeySeed<'a>(&'a mut String);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(KeyVisitor(self.0))
    }
}

struct KeyVisitor<'a>(&'a mut String);

impl<'de> Visitor<'de> for KeyVisitor<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.clear();
        // Field names longer than any known one are never looked at.
        if v.len() <= 64 {
            self.0.push_str(v);
        }
        Ok(())
    }
}

/// A JSON value reduced to what the parser checks: strings kept, containers only named.
#[derive(Default)]
pub(super) enum Loose {
    #[default]
    Missing,
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Array,
    Object,
}

impl<'de> de::Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor)
    }
}

/// Implements the visit methods that only name a JSON kind, draining containers.
macro_rules! accept_any_kind {
    ($value:ty, $wrap:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<$value, E> {
            Ok($wrap(Loose::Bool(v)))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<$value, E> {
            Ok($wrap(Loose::Int(i128::from(v))))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<$value, E> {
            Ok($wrap(Loose::Int(i128::from(v))))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<$value, E> {
            Ok($wrap(Loose::Float(v)))
        }
        fn visit_unit<E: de::Error>(self) -> Result<$value, E> {
            Ok($wrap(Loose::Null))
        }
        fn visit_none<E: de::Error>(self) -> Result<$value, E> {
            Ok($wrap(Loose::Null))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($wrap(Loose::Array))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($wrap(Loose::Object))
        }
    };
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Str(v))
    }
    accept_any_kind!(Loose, std::convert::identity);
}

impl Loose {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Loose::Missing => "missing",
            Loose::Null => "null",
            Loose::Bool(_) => "a boolean",
            Loose::Int(_) | Loose::Float(_) => "a number",
            Loose::Str(_) => "a string",
            Loose::Array => "an array",
            Loose::Object => "an object",
        }
    }
}

/// A secret field: a string goes straight into a `SecretString`; any other kind is named.
pub(super) enum SecretField {
    Missing,
    Secret(SecretString),
    Other(Loose),
}

impl<'de> de::Deserialize<'de> for SecretField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretField;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a secret string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretField, E> {
        Ok(SecretField::Secret(SecretString::from(v)))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<SecretField, E> {
        Ok(SecretField::Secret(SecretString::from(v)))
    }
    accept_any_kind!(SecretField, SecretField::Other);
}

impl SecretField {
    /// The secret, or a problem naming `field` (never its value).
    #[allow(clippy::disallowed_methods)] // checks the parsed secret is not empty
    pub(super) fn require(self, field: &str) -> Result<SecretString, String> {
        use secrecy::ExposeSecret;
        match self {
            SecretField::Secret(s) if !s.expose_secret().is_empty() => Ok(s),
            SecretField::Secret(_) => Err(format!("field `{field}` is empty")),
            SecretField::Missing => Err(format!("field `{field}` is missing")),
            SecretField::Other(kind) => Err(format!(
                "field `{field}` is {}, expected a string",
                kind.kind()
            )),
        }
    }
}

/// A required, non-empty string.
pub(super) fn required_string(value: Loose, field: &str) -> Result<String, String> {
    match value {
        Loose::Str(s) if !s.trim().is_empty() => Ok(s),
        Loose::Str(_) => Err(format!("field `{field}` is empty")),
        Loose::Missing => Err(format!("field `{field}` is missing")),
        other => Err(format!(
            "field `{field}` is {}, expected a string",
            other.kind()
        )),
    }
}

/// An optional string: null, missing or blank is `None`.
pub(super) fn optional_string(value: Loose, field: &str) -> Result<Option<String>, String> {
    match value {
        Loose::Missing | Loose::Null => Ok(None),
        Loose::Str(s) if s.trim().is_empty() => Ok(None),
        Loose::Str(s) => Ok(Some(s)),
        other => Err(format!(
            "field `{field}` is {}, expected a string or null",
            other.kind()
        )),
    }
}

/// An optional code that SIMS may print as a number (DfE codes are digits).
pub(super) fn optional_code(value: Loose, field: &str) -> Result<Option<String>, String> {
    match value {
        Loose::Int(n) => Ok(Some(n.to_string())),
        Loose::Str(s) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        other => optional_string(other, field),
    }
}

/// One JSON object read with `F`; `Err` names what was wrong. Any other kind is a problem too.
pub(super) struct Object<F: Fields>(pub(super) Result<F::Output, String>);

impl<'de, F: Fields> de::Deserialize<'de> for Object<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjectVisitor::<F>(PhantomData))
    }
}

struct ObjectVisitor<F>(PhantomData<F>);

fn not_object<F: Fields>(kind: Loose) -> Object<F> {
    Object(Err(format!("is {}, expected an object", kind.kind())))
}

impl<'de, F: Fields> Visitor<'de> for ObjectVisitor<F> {
    type Value = Object<F>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} object", F::WHAT)
    }
    fn visit_str<E: de::Error>(self, _v: &str) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Str(String::new())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Int(i128::from(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Int(i128::from(v))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Float(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<Object<F>, E> {
        Ok(not_object(Loose::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Object<F>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(not_object(Loose::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<F>, A::Error> {
        let mut fields = F::default();
        let mut key = String::new();
        while map.next_key_seed(KeySeed(&mut key))?.is_some() {
            fields.field(&key, &mut map)?;
        }
        Ok(Object(fields.finish()))
    }
}

/// A JSON array of objects read with `F`; `Err` names the first wrong element.
pub(super) struct List<F: Fields>(pub(super) Result<Vec<F::Output>, String>);

impl<'de, F: Fields> de::Deserialize<'de> for List<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor::<F>(PhantomData))
    }
}

struct ListVisitor<F>(PhantomData<F>);

impl<F: Fields> ListVisitor<F> {
    fn not_list(kind: Loose) -> List<F> {
        List(Err(format!(
            "expected a JSON array of {}s, got {}",
            F::WHAT,
            kind.kind()
        )))
    }
}

impl<'de, F: Fields> Visitor<'de> for ListVisitor<F> {
    type Value = List<F>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON array of {}s", F::WHAT)
    }
    fn visit_str<E: de::Error>(self, _v: &str) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Str(String::new())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Int(i128::from(v))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Int(i128::from(v))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Float(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<List<F>, E> {
        Ok(Self::not_list(Loose::Null))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<F>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::not_list(Loose::Object))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<F>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        let mut index = 0usize;
        while let Some(Object::<F>(item)) = seq.next_element::<Object<F>>()? {
            match item {
                Ok(item) => items.push(item),
                Err(problem) => {
                    // Drop what was parsed (secrets included) and skip the rest.
                    drop(items);
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(List(Err(format!("{} {index}: {problem}", F::WHAT))));
                }
            }
            index += 1;
        }
        Ok(List(Ok(items)))
    }
}
