//! Form fields as data: a page describes its fields in Rust and one template partial
//! draws every one the same accessible way (a label tied to the input, the hint and the
//! error tied by `aria-describedby`, the error summary linking to the input's id).

use crate::error::FieldError;
use crate::i18n::Lang;

/// The id of the input for a field path: `members[1].name` → `f-members-1-name`.
pub fn field_id(path: &str) -> String {
    let mut id = String::from("f-");
    for c in path.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' => id.push(c),
            _ => {
                if !id.ends_with('-') {
                    id.push('-');
                }
            }
        }
    }
    id.trim_end_matches('-').to_string()
}

/// One problem, for the summary at the top of the page and beside its field.
#[derive(Clone, Debug)]
pub struct Problem {
    pub path: String,
    pub message: String,
    /// Where the field is, when it is on another page (the review page links to steps).
    pub href: String,
}

/// The problems of one submission of a form.
#[derive(Clone, Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn from_fields(
        fields: &[FieldError],
        lang: Lang,
        href_of: impl Fn(&str) -> String,
    ) -> Self {
        Problems(
            fields
                .iter()
                .map(|f| {
                    let id = field_id(&f.field);
                    Problem {
                        href: format!("{}#{id}", href_of(&f.field)),
                        path: f.field.clone(),
                        message: f.msg.get(lang).to_string(),
                    }
                })
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Prefixes each message in the summary with its field's label, so that "required"
    /// says which field; fields not among `fields` keep their message.
    pub fn labelled(mut self, fields: &[Field]) -> Problems {
        for p in &mut self.0 {
            if let Some(f) = fields.iter().find(|f| f.name == p.path) {
                p.message = format!("{}：{}", f.label, p.message);
            }
        }
        self
    }

    /// The message for a field path: its own, or one of a field below it
    /// (`members[0]` shows under the member's first input).
    pub fn of(&self, path: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|p| p.path == path)
            .map(|p| p.message.as_str())
    }
}

/// One choice of a select, radio group or checkbox list.
#[derive(Clone, Debug)]
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    TextArea,
    Number,
    Date,
    Tel,
    Email,
    Password,
    Select,
    Radios,
    Checkboxes,
    /// A single yes/no checkbox.
    Check,
}

/// One input.
#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub id: String,
    pub label: String,
    pub hint: Option<String>,
    pub kind: Kind,
    pub value: String,
    pub choices: Vec<Choice>,
    pub error: Option<String>,
    pub required: bool,
    /// `autocomplete` hint (`name`, `tel`, `email`, `new-password`, …).
    pub autocomplete: &'static str,
    /// `inputmode` (`numeric`, `decimal`) for phones' keyboards.
    pub inputmode: &'static str,
}

impl Field {
    pub fn new(name: impl Into<String>, label: impl Into<String>, kind: Kind) -> Field {
        let name = name.into();
        Field {
            id: field_id(&name),
            name,
            label: label.into(),
            hint: None,
            kind,
            value: String::new(),
            choices: vec![],
            error: None,
            required: false,
            autocomplete: "",
            inputmode: "",
        }
    }

    pub fn value(mut self, v: impl Into<String>) -> Self {
        self.value = v.into();
        self
    }

    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn autocomplete(mut self, a: &'static str) -> Self {
        self.autocomplete = a;
        self
    }

    pub fn inputmode(mut self, m: &'static str) -> Self {
        self.inputmode = m;
        self
    }

    pub fn choices(mut self, choices: Vec<Choice>) -> Self {
        self.choices = choices;
        self
    }

    /// Attaches the problem reported for `path` (default: this field's name).
    pub fn errors_from(mut self, problems: &Problems) -> Self {
        self.error = problems.of(&self.name).map(str::to_string);
        self
    }

    pub fn described_by(&self) -> String {
        let mut ids = Vec::new();
        if self.hint.is_some() {
            ids.push(format!("{}-hint", self.id));
        }
        if self.error.is_some() {
            ids.push(format!("{}-error", self.id));
        }
        ids.join(" ")
    }

    pub fn is(&self, kind: &str) -> bool {
        let k = match self.kind {
            Kind::Text => "text",
            Kind::TextArea => "textarea",
            Kind::Number => "number",
            Kind::Date => "date",
            Kind::Tel => "tel",
            Kind::Email => "email",
            Kind::Password => "password",
            Kind::Select => "select",
            Kind::Radios => "radios",
            Kind::Checkboxes => "checkboxes",
            Kind::Check => "check",
        };
        k == kind
    }

    /// The `type` attribute of a plain input.
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            // Numbers as text with inputmode: browsers' number inputs drop what they
            // cannot parse, so the server could not say what was wrong.
            Kind::Number => "text",
            Kind::Date => "date",
            Kind::Tel => "tel",
            Kind::Email => "email",
            Kind::Password => "password",
            _ => "text",
        }
    }
}

/// A group of fields with a legend (a member, a dwelling).
#[derive(Clone, Debug)]
pub struct Fieldset {
    pub legend: String,
    pub fields: Vec<Field>,
    /// A "remove this one" button: (name, value, label).
    pub remove: Option<(String, String, String)>,
}

/// Choices from a value list, with the current value selected.
pub fn choices<T: Copy + PartialEq + super::labels::Label>(
    all: &[T],
    current: Option<T>,
    value_of: impl Fn(T) -> &'static str,
    lang: Lang,
) -> Vec<Choice> {
    all.iter()
        .map(|&v| Choice {
            value: value_of(v).to_string(),
            label: v.label(lang).to_string(),
            selected: current == Some(v),
        })
        .collect()
}

/// Fen as yuan for an input: `123456` → `1234.56`.
pub fn yuan(fen: Option<i64>) -> String {
    fen.map(|f| {
        if f % 100 == 0 {
            format!("{}", f / 100)
        } else {
            format!("{}.{:02}", f / 100, f % 100)
        }
    })
    .unwrap_or_default()
}

/// Yuan typed by a person → fen: `1234.5` → `123450`; `None` when it is not a number
/// with at most two decimals.
pub fn parse_yuan(raw: &str) -> Option<i64> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != '，')
        .collect();
    let (whole, frac) = s.split_once('.').unwrap_or((&s, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 2 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_money_round_trip() {
        assert_eq!(
            field_id("members[1].annual_income_fen"),
            "f-members-1-annual_income_fen"
        );
        assert_eq!(parse_yuan("1,234.5"), Some(123_450));
        assert_eq!(parse_yuan("30000"), Some(3_000_000));
        assert_eq!(parse_yuan("1.234"), None);
        assert_eq!(parse_yuan("abc"), None);
        assert_eq!(parse_yuan(""), None);
        assert_eq!(yuan(Some(123_450)), "1234.50");
        assert_eq!(yuan(Some(3_000_000)), "30000");
    }
}
