//! The spec as published: poem-openapi's document, rewritten in the one place where its
//! shapes differ from what client generators take, keeping every description and the
//! order of every key.
//!
//! - A field of a named type with a description (or a default) comes out as
//!   `allOf: [{$ref}, {description, default}]`; generators refuse `allOf` over a non-object
//!   ("Cannot take allOf a non-object" in openapi-python-client, which then drops the
//!   schema and every operation using it). It becomes `{$ref, description, default}`:
//!   generators take the reference and keep the annotations.
//! - Dates come out as `format: naive-date`, which no generator knows; the standard
//!   name is `date`.
//!
//! The document is read into [`Node`], a JSON tree that keeps key order (serde_json's own
//! map sorts keys, and the batch manifests depend on that, so its order-keeping feature
//! stays off), rewritten, and written back as JSON and YAML.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// A JSON value whose objects keep their keys in document order.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    Scalar(serde_json::Value),
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(pairs) => pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn is_only(&self, keys: &[&str]) -> bool {
        matches!(self, Node::Object(p) if p.len() == keys.len() && p.iter().all(|(k, _)| keys.contains(&k.as_str())))
    }
}

/// Rewrites the document in place (see the module docs); returns how many places changed.
pub fn rewrite(node: &mut Node) -> usize {
    let mut changed = 0;
    if let Node::Object(pairs) = node {
        if let Some(merged) = enum_ref_with_description(pairs) {
            *pairs = merged;
            changed += 1;
        }
        for (k, v) in pairs.iter_mut() {
            if k == "format" && *v == Node::Scalar("naive-date".into()) {
                *v = Node::Scalar("date".into());
                changed += 1;
            }
        }
    }
    match node {
        Node::Object(pairs) => pairs.iter_mut().map(|(_, v)| rewrite(v)).sum::<usize>() + changed,
        Node::Array(items) => items.iter_mut().map(rewrite).sum::<usize>() + changed,
        Node::Scalar(_) => changed,
    }
}

/// Keys that only annotate a schema, never constrain it.
const ANNOTATIONS: &[&str] = &["description", "default", "example", "title", "deprecated"];

/// `{annotations?, allOf: [{$ref}, {annotations}]}` → `{$ref, annotations}`; `None` for
/// any other shape (a real composition stays as it is).
fn enum_ref_with_description(pairs: &[(String, Node)]) -> Option<Vec<(String, Node)>> {
    let all_of = pairs.iter().find(|(k, _)| k == "allOf")?;
    let Node::Array(parts) = &all_of.1 else {
        return None;
    };
    let [reference, Node::Object(annotations)] = parts.as_slice() else {
        return None;
    };
    let only_annotations = |p: &[(String, Node)]| {
        p.iter()
            .all(|(k, _)| k == "allOf" || ANNOTATIONS.contains(&k.as_str()))
    };
    if !reference.is_only(&["$ref"]) || !only_annotations(annotations) || !only_annotations(pairs) {
        return None;
    }
    let mut merged = vec![("$ref".to_string(), reference.get("$ref")?.clone())];
    merged.extend(annotations.iter().cloned());
    Some(merged)
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Object(pairs) => {
                let mut m = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            Node::Array(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for v in items {
                    q.serialize_element(v)?;
                }
                q.end()
            }
            Node::Scalar(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Node>()? {
                    pairs.push((k, v));
                }
                Ok(Node::Object(pairs))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(v) = a.next_element::<Node>()? {
                    items.push(v);
                }
                Ok(Node::Array(items))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Scalar(v.into()))
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar(serde_json::Value::Null))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str) -> Node {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn an_enum_field_with_a_description_becomes_a_plain_reference_keeping_the_text() {
        let mut n = node(
            r##"{"status": {"description": "Case status.", "allOf": [{"$ref": "#/components/schemas/Status"}, {"description": "Case status."}]}}"##,
        );
        assert_eq!(rewrite(&mut n), 1);
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            r##"{"status":{"$ref":"#/components/schemas/Status","description":"Case status."}}"##
        );
    }

    #[test]
    fn a_real_composition_and_key_order_are_left_alone() {
        let text = r##"{"z": 1, "a": {"allOf": [{"$ref": "#/x"}, {"type": "object", "properties": {}}]}}"##;
        let mut n = node(text);
        assert_eq!(rewrite(&mut n), 0);
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            serde_json::to_string(&node(text)).unwrap()
        );
        assert!(serde_json::to_string(&n).unwrap().starts_with(r#"{"z":1"#));
    }

    #[test]
    fn a_default_travels_with_the_description() {
        let mut n = node(
            r##"{"description": "Stage.", "default": "hard", "allOf": [{"$ref": "#/S"}, {"description": "Stage.", "default": "hard"}]}"##,
        );
        assert_eq!(rewrite(&mut n), 1);
        assert_eq!(
            serde_json::to_string(&n).unwrap(),
            r##"{"$ref":"#/S","description":"Stage.","default":"hard"}"##
        );
    }

    #[test]
    fn naive_dates_are_published_as_dates() {
        let mut n = node(r#"{"type": "string", "format": "naive-date"}"#);
        assert_eq!(rewrite(&mut n), 1);
        assert_eq!(n.get("format"), Some(&Node::Scalar("date".into())));
    }
}
