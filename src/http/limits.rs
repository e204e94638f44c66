//! Every limit a request body's schema declares, enforced on the JSON before it becomes a
//! value: lengths, item counts, ranges, and no NUL character in any string (PostgreSQL
//! cannot store one). The schema is the one the spec publishes (poem-openapi's registry
//! for the body type), so what the spec promises and what the server refuses cannot drift
//! apart; and every violation is reported at once, each with its path.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde_json::Value;

use crate::error::FieldError;
use crate::i18n::Msg;

/// The schemas of a body type: its own and every one it references.
struct Schemas {
    root: MetaSchemaRef,
    registry: Registry,
}

/// Registries are built once per body type; building walks the type's whole graph.
static SCHEMAS: LazyLock<RwLock<HashMap<TypeId, Arc<Schemas>>>> = LazyLock::new(Default::default);

fn schemas_of<T: Type + 'static>() -> Arc<Schemas> {
    let key = TypeId::of::<T>();
    if let Some(s) = SCHEMAS.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return s.clone();
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let built = Arc::new(Schemas {
        root: T::schema_ref(),
        registry,
    });
    SCHEMAS
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, built.clone());
    built
}

/// Every declared limit `value` breaks, as a body of type `T`.
pub fn violations<T: Type + 'static>(value: &Value) -> Vec<FieldError> {
    let s = schemas_of::<T>();
    let mut out = Vec::new();
    walk(value, &s.root, &s.registry, "", &mut out);
    out
}

fn resolve<'a>(r: &'a MetaSchemaRef, registry: &'a Registry) -> Option<&'a MetaSchema> {
    match r {
        MetaSchemaRef::Inline(s) => Some(s),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(
    value: &Value,
    r: &MetaSchemaRef,
    registry: &Registry,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let Some(schema) = resolve(r, registry) else {
        return;
    };
    for part in &schema.all_of {
        walk(value, part, registry, path, out);
    }
    match value {
        Value::String(s) => string(s, schema, path, out),
        Value::Number(n) => number(n.as_f64().unwrap_or_default(), schema, path, out),
        Value::Array(items) => {
            count(items.len(), schema, path, out);
            if let Some(item) = &schema.items {
                for (i, v) in items.iter().enumerate() {
                    walk(v, item, registry, &format!("{path}[{i}]"), out);
                }
            }
        }
        Value::Object(map) => {
            for (name, prop) in &schema.properties {
                if let Some(v) = map.get(*name) {
                    walk(v, prop, registry, &child(path, name), out);
                }
            }
            if let Some(extra) = &schema.additional_properties {
                for (k, v) in map {
                    if !schema.properties.iter().any(|(n, _)| n == k) {
                        walk(v, extra, registry, &child(path, k), out);
                    }
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

fn string(s: &str, schema: &MetaSchema, path: &str, out: &mut Vec<FieldError>) {
    if s.contains('\0') {
        out.push(FieldError::new(
            path,
            "nul_character",
            Msg::new("不能包含空字符（NUL）", "must not contain a NUL character"),
        ));
    }
    let n = s.chars().count();
    if schema.max_length.is_some_and(|max| n > max) {
        out.push(FieldError::too_long(path, schema.max_length.unwrap_or(0)));
    }
    if schema.min_length.is_some_and(|min| n < min) {
        out.push(FieldError::too_short(path, schema.min_length.unwrap_or(0)));
    }
}

fn number(x: f64, schema: &MetaSchema, path: &str, out: &mut Vec<FieldError>) {
    let below = schema.minimum.is_some_and(|m| x < m);
    let above = schema.maximum.is_some_and(|m| x > m);
    if below || above {
        let lo = schema.minimum.map_or(i64::MIN, |m| m as i64);
        let hi = schema.maximum.map_or(i64::MAX, |m| m as i64);
        out.push(FieldError::out_of_range(path, lo, hi));
    }
}

fn count(n: usize, schema: &MetaSchema, path: &str, out: &mut Vec<FieldError>) {
    if let Some(max) = schema.max_items.filter(|max| n > *max) {
        out.push(FieldError::new(
            path,
            "too_many",
            Msg::new(format!("最多 {max} 项"), format!("at most {max} items")),
        ));
    }
    if let Some(min) = schema.min_items.filter(|min| n < *min) {
        out.push(FieldError::new(
            path,
            "too_few",
            Msg::new(format!("至少 {min} 项"), format!("at least {min} items")),
        ));
    }
}
