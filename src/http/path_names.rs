//! The names of path parameters, for error messages. poem-openapi extracts path
//! parameters under positional names (`param0`, `param1`, …), and a parse failure names
//! those; a client needs the name the spec gives (`id`, `number`). The published spec's
//! path templates say which is which.

use crate::error::FieldError;
use crate::i18n::Msg;

/// The path templates of the published spec (`/api/v1/batches/{id}/items/{application_id}`).
#[derive(Clone, Debug, Default)]
pub struct PathNames {
    templates: Vec<Vec<String>>,
}

impl PathNames {
    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> PathNames {
        PathNames {
            templates: templates.into_iter().map(segments).collect(),
        }
    }

    /// The name of path parameter `index` of a request to `path`: from the template
    /// matching it with the most literal segments.
    pub fn name(&self, path: &str, index: usize) -> Option<&str> {
        let wanted = segments(path);
        self.templates
            .iter()
            .filter(|t| {
                t.len() == wanted.len() && t.iter().zip(&wanted).all(|(t, w)| is_param(t) || t == w)
            })
            .max_by_key(|t| t.iter().filter(|s| !is_param(s)).count())?
            .iter()
            .filter(|s| is_param(s))
            .nth(index)
            .map(|s| s.trim_start_matches('{').trim_end_matches('}'))
    }

    /// The route a path belongs to, for logs and metrics: the spec's template
    /// (`/api/v1/applications/{id}`), or for any other path the path with each
    /// all-digit segment as `{n}` (so ids never make a metric label of their own).
    pub fn route(&self, path: &str) -> String {
        let wanted = segments(path);
        let template = self
            .templates
            .iter()
            .filter(|t| {
                t.len() == wanted.len() && t.iter().zip(&wanted).all(|(t, w)| is_param(t) || t == w)
            })
            .max_by_key(|t| t.iter().filter(|s| !is_param(s)).count());
        match template {
            Some(t) => format!("/{}", t.join("/")),
            None if path.starts_with("/api/") => "/api/(unknown)".into(),
            None => {
                let parts: Vec<&str> = wanted
                    .iter()
                    .map(|s| {
                        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                            "{n}"
                        } else if s.len() > 40 {
                            "{token}"
                        } else {
                            s.as_str()
                        }
                    })
                    .collect();
                format!("/{}", parts.join("/"))
            }
        }
    }

    /// A parameter that could not be parsed (path, query or header) as a field error
    /// naming it, if `err` is one.
    pub fn field_error(&self, path: &str, err: &poem::Error) -> Option<FieldError> {
        let (name, reason) =
            if let Some(e) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
                let index = e.name.strip_prefix("param").and_then(|n| n.parse().ok());
                let name = index.and_then(|i| self.name(path, i)).unwrap_or(e.name);
                (name, &e.reason)
            } else {
                let e = err.downcast_ref::<poem_openapi::error::ParseParamError>()?;
                (e.name, &e.reason)
            };
        Some(FieldError::new(
            name,
            "invalid_parameter",
            Msg::new(
                format!("参数 {name} 无效：{reason}"),
                format!("parameter {name} is invalid: {reason}"),
            ),
        ))
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}

fn is_param(segment: &str) -> bool {
    segment.starts_with('{') && segment.ends_with('}')
}

#[cfg(test)]
mod tests {
    use super::PathNames;

    #[test]
    fn literal_segments_win_and_positions_map_to_names() {
        let names = PathNames::new([
            "/api/v1/batches/{id}/items/{application_id}",
            "/api/v1/applications/{id}",
            "/api/v1/applications/simulate",
        ]);
        assert_eq!(
            names.name("/api/v1/batches/x/items/y", 1),
            Some("application_id")
        );
        assert_eq!(names.name("/api/v1/applications/abc", 0), Some("id"));
        assert_eq!(names.name("/api/v1/nothing", 0), None);
        assert_eq!(
            names.route("/api/v1/applications/12"),
            "/api/v1/applications/{id}"
        );
        assert_eq!(
            names.route("/applications/12/edit/members"),
            "/applications/{n}/edit/members"
        );
    }
}
