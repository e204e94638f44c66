//! Bilingual text. Every message a person reads exists in Chinese (the default: the
//! office and most applicants read it) and English; the request's `Accept-Language`
//! picks one. The language travels with the request in a task-local so that error
//! rendering deep in the stack needs no extra parameter.

use std::fmt;

/// A language the service can answer in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Picks the best of zh/en from an `Accept-Language` header, by q-value; zh when
    /// neither is listed or the header is absent.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::Zh;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse().ok()))
                .unwrap_or(1.0_f32);
            let lang = if tag.starts_with("zh") {
                Lang::Zh
            } else if tag.starts_with("en") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::Zh)
    }

    /// The language of the request being served (zh outside a request).
    pub fn current() -> Lang {
        crate::http::context::current()
            .map(|c| c.lang)
            .unwrap_or_default()
    }
}

impl From<entity::enums::Language> for Lang {
    fn from(l: entity::enums::Language) -> Lang {
        match l {
            entity::enums::Language::Zh => Lang::Zh,
            entity::enums::Language::En => Lang::En,
        }
    }
}

impl From<Lang> for entity::enums::Language {
    fn from(l: Lang) -> entity::enums::Language {
        match l {
            Lang::Zh => entity::enums::Language::Zh,
            Lang::En => entity::enums::Language::En,
        }
    }
}

/// A message in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub zh: String,
    pub en: String,
}

impl Msg {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Msg {
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_highest_q_of_zh_and_en() {
        assert_eq!(Lang::from_accept_language(None), Lang::Zh);
        assert_eq!(Lang::from_accept_language(Some("en-US,en;q=0.9")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("fr, en;q=0.5, zh;q=0.8")),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_accept_language(Some("zh-CN;q=0.2, en;q=0.7")),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::Zh);
    }
}
