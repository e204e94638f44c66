//! Validated values used by more than one domain. Each is a newtype with a private
//! field and a `parse` constructor: code that holds one never checks it again.

/// Declares a string-valued enum that is a poem-openapi `Enum` and a serde type with
/// the same snake_case names, with `ALL`, `as_str` and `parse`.
macro_rules! str_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(poem_openapi::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[oai(rename_all = "snake_case")]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}
pub(crate) use str_enum;

mod id_number;

pub use id_number::{IdGender, IdNumber, mask as mask_id_number};

use crate::error::FieldError;
use crate::i18n::Msg;

/// A mainland mobile number, stored as its 11 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Mobile(String);

impl Mobile {
    /// Accepts `^(?:\+?86)?1[3-9]\d{9}$` after removing spaces and dashes.
    pub fn parse(field: &str, raw: &str) -> Result<Mobile, FieldError> {
        let cleaned: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let digits = cleaned
            .strip_prefix("+86")
            .or_else(|| cleaned.strip_prefix("86").filter(|d| d.len() == 11))
            .unwrap_or(&cleaned);
        let b = digits.as_bytes();
        let ok = b.len() == 11
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
            && b.iter().all(u8::is_ascii_digit);
        if ok {
            Ok(Mobile(digits.to_string()))
        } else {
            Err(FieldError::new(
                field,
                "invalid_mobile",
                Msg::new(
                    "手机号码格式不正确（应为 11 位，以 13–19 开头）",
                    "not a valid mainland mobile number (11 digits starting 13-19)",
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`, for lists and logs.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

/// An e-mail address, trimmed and lower-cased.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(field: &str, raw: &str) -> Result<Email, FieldError> {
        use validator::ValidateEmail;
        let value = raw.trim().to_lowercase();
        if value.chars().count() > Self::MAX_LEN {
            return Err(FieldError::too_long(field, Self::MAX_LEN));
        }
        if value.validate_email() {
            Ok(Email(value))
        } else {
            Err(FieldError::new(
                field,
                "invalid_email",
                Msg::new("电子邮箱格式不正确", "not a valid e-mail address"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `张*明`: a name with all but its first and last characters hidden (one or two
/// characters keep only the first).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Characters that change how text around them is shown without being seen: the
/// bidirectional overrides and isolates, and the zero-width ones. A name or a comment
/// carrying one can read differently on screen from what is stored.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// Checks a free-text field: trimmed, not empty (when required), at most `max`
/// characters, no control characters and no invisible formatting characters.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let value = raw.trim();
    if value.is_empty() {
        return Err(FieldError::required(field));
    }
    if value.chars().count() > max {
        return Err(FieldError::too_long(field, max));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "control_characters",
            Msg::new("不能包含控制字符", "must not contain control characters"),
        ));
    }
    if value.chars().any(invisible) {
        return Err(FieldError::new(
            field,
            "invisible_characters",
            Msg::new(
                "不能包含不可见的格式字符（如双向覆盖、零宽字符）",
                "must not contain invisible formatting characters (bidirectional overrides, zero-width)",
            ),
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobile_numbers_follow_the_domain_pattern() {
        for ok in [
            "13812345678",
            "+8613812345678",
            "86 138-1234-5678",
            "19912345678",
        ] {
            assert_eq!(Mobile::parse("m", ok).unwrap().as_str().len(), 11, "{ok}");
        }
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "abc",
            "",
            "+85213812345678",
        ] {
            assert!(Mobile::parse("m", bad).is_err(), "{bad}");
        }
        assert_eq!(
            Mobile::parse("m", "13812345678").unwrap().masked(),
            "138****5678"
        );
    }

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            Email::parse("e", " A@Example.COM ").unwrap().as_str(),
            "a@example.com"
        );
        assert!(Email::parse("e", "not-an-email").is_err());
    }

    #[test]
    fn names_are_masked_for_public_lists() {
        assert_eq!(mask_name("张小明"), "张*明");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
        assert_eq!(mask_name("王五"), "王*");
        assert_eq!(mask_name("李"), "*");
    }

    #[test]
    fn text_rejects_empty_long_and_control_characters() {
        assert_eq!(text("n", "  张三 ", 10).unwrap(), "张三");
        assert_eq!(text("n", "   ", 10).unwrap_err().code, "required");
        assert_eq!(
            text("n", &"长".repeat(11), 10).unwrap_err().code,
            "too_long"
        );
        assert_eq!(
            text("n", "a\u{0}b", 10).unwrap_err().code,
            "control_characters"
        );
        for trick in ["王\u{202E}明", "王\u{200B}明", "\u{2066}王明"] {
            assert_eq!(
                text("n", trick, 10).unwrap_err().code,
                "invisible_characters"
            );
        }
    }
}
