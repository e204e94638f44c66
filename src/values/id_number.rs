//! Resident identity numbers (GB 11643-1999), as ../shared/DOMAIN.md describes them.
//!
//! 18 characters: a 6-digit address code, the birth date YYYYMMDD, a 3-digit sequence
//! (odd for men, even for women) and a check character. Legacy 15-digit numbers (2-digit
//! year, no check character) are accepted and converted. Unknown address codes are never
//! rejected: codes are retired and renumbered, and migrants carry codes from everywhere.

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::FieldError;
use crate::i18n::Msg;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

/// Gender encoded in the sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdGender {
    Male,
    Female,
}

/// A checked 18-character identity number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl std::fmt::Debug for IdNumber {
    // Never print the full number, not even in debug output that may reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

fn check_char(first17: &[u8]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

fn error(field: &str, code: &'static str, zh: &str, en: &str) -> FieldError {
    FieldError::new(field, code, Msg::new(zh, en))
}

/// Trims, turns full-width digits and X into half-width, lower-case x into X.
fn normalise(raw: &str) -> String {
    raw.trim()
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            'ｘ' | 'Ｘ' | 'x' => 'X',
            other => other,
        })
        .collect()
}

impl IdNumber {
    /// Parses a number, checking format, check character and birth date (a real date,
    /// not after `today`).
    pub fn parse(field: &str, raw: &str, today: NaiveDate) -> Result<IdNumber, FieldError> {
        let s = normalise(raw);
        let b = s.as_bytes();
        let eighteen = match b.len() {
            15 if b.iter().all(u8::is_ascii_digit) => {
                let mut v = Vec::with_capacity(18);
                v.extend_from_slice(&b[..6]);
                v.extend_from_slice(b"19");
                v.extend_from_slice(&b[6..]);
                let c = check_char(&v);
                v.push(c);
                String::from_utf8(v).unwrap_or_default()
            }
            18 if b[..17].iter().all(u8::is_ascii_digit)
                && (b[17].is_ascii_digit() || b[17] == b'X') =>
            {
                if check_char(&b[..17]) != b[17] {
                    return Err(error(
                        field,
                        "invalid_checksum",
                        "身份证号码校验位不正确，请核对",
                        "the check character does not match; please check the number",
                    ));
                }
                s.clone()
            }
            _ => {
                return Err(error(
                    field,
                    "invalid_format",
                    "身份证号码应为 18 位（或旧版 15 位）数字，末位可为 X",
                    "must be 18 characters (or a legacy 15-digit number), digits with a final X allowed",
                ));
            }
        };
        let id = IdNumber(eighteen);
        match id.birth_date() {
            Some(d) if d <= today && d.year() >= 1800 => Ok(id),
            Some(_) => Err(error(
                field,
                "birth_date_out_of_range",
                "身份证号码中的出生日期不在合理范围内",
                "the birth date in the number is in the future or implausibly early",
            )),
            None => Err(error(
                field,
                "invalid_birth_date",
                "身份证号码中的出生日期不存在",
                "the birth date in the number is not a real date",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date in positions 7-14.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        let y = self.0.get(6..10)?.parse().ok()?;
        let m = self.0.get(10..12)?.parse().ok()?;
        let d = self.0.get(12..14)?.parse().ok()?;
        NaiveDate::from_ymd_opt(y, m, d)
    }

    /// Odd sequence: male; even: female.
    pub fn gender(&self) -> IdGender {
        let seq = self.0.as_bytes()[16] - b'0';
        if seq % 2 == 1 {
            IdGender::Male
        } else {
            IdGender::Female
        }
    }

    /// The 6-digit address code.
    pub fn address_code(&self) -> &str {
        &self.0[..6]
    }

    /// Hong Kong, Macau and Taiwan residence permits (810000/820000/830000) and foreigner
    /// permanent-residence numbers (starting with 9) pass the checksum but are not hukou.
    pub fn is_non_hukou_permit(&self) -> bool {
        matches!(self.address_code(), "810000" | "820000" | "830000") || self.0.starts_with('9')
    }

    /// `4101**********0037`: for lists, logs and exports.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    /// Keyed hash for duplicate look-ups, so the plain number is never a search key.
    pub fn keyed_hash(&self, key: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(self.0.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Masks all but the first 4 and last 4 characters of an identity number.
pub fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()
    }

    fn parse(s: &str) -> Result<IdNumber, FieldError> {
        IdNumber::parse("id", s, today())
    }

    #[test]
    fn the_domain_test_vectors() {
        let a = parse("11010519491231002X").unwrap();
        assert_eq!(a.gender(), IdGender::Female);
        assert_eq!(a.birth_date(), NaiveDate::from_ymd_opt(1949, 12, 31));
        assert_eq!(
            parse("440524188001010014").unwrap().gender(),
            IdGender::Male
        );
        assert_eq!(
            parse("410104198507150037").unwrap().gender(),
            IdGender::Male
        );
        assert_eq!(
            parse("410104198507150038").unwrap_err().code,
            "invalid_checksum"
        );
    }

    #[test]
    fn input_is_normalised_first() {
        assert_eq!(
            parse(" 11010519491231002x ").unwrap().as_str(),
            "11010519491231002X"
        );
        assert_eq!(
            parse("４１０１０４１９８５０７１５００３７")
                .unwrap()
                .as_str(),
            "410104198507150037"
        );
    }

    #[test]
    fn legacy_fifteen_digit_numbers_become_eighteen() {
        assert_eq!(
            parse("110105491231002").unwrap().as_str(),
            "11010519491231002X"
        );
    }

    #[test]
    fn birth_dates_must_be_real_and_not_in_the_future() {
        // 1985-02-30 does not exist; checksum made valid so the date is what fails.
        let mut body = b"41010419850230003".to_vec();
        body.push(check_char(&body));
        let s = String::from_utf8(body).unwrap();
        assert_eq!(parse(&s).unwrap_err().code, "invalid_birth_date");
        let mut body = b"41010420300101003".to_vec();
        body.push(check_char(&body));
        let s = String::from_utf8(body).unwrap();
        assert_eq!(parse(&s).unwrap_err().code, "birth_date_out_of_range");
    }

    #[test]
    fn unknown_address_codes_and_permits_are_accepted() {
        let mut body = b"99999919900101001".to_vec();
        body.push(check_char(&body));
        let s = String::from_utf8(body).unwrap();
        let id = parse(&s).unwrap();
        assert!(id.is_non_hukou_permit());
        assert!(!parse("410104198507150037").unwrap().is_non_hukou_permit());
    }

    #[test]
    fn wrong_lengths_and_letters_are_format_errors() {
        for bad in [
            "",
            "4101041985071500",
            "41010419850715003A",
            "X10104198507150037",
            "4101041985071500370",
        ] {
            assert_eq!(parse(bad).unwrap_err().code, "invalid_format", "{bad}");
        }
    }

    #[test]
    fn masking_and_keyed_hashing() {
        let id = parse("410104198507150037").unwrap();
        assert_eq!(id.masked(), "4101**********0037");
        assert_eq!(format!("{id:?}"), "IdNumber(4101**********0037)");
        assert_ne!(id.keyed_hash(b"k1"), id.keyed_hash(b"k2"));
        assert_eq!(id.keyed_hash(b"k1"), id.keyed_hash(b"k1"));
        assert!(!id.keyed_hash(b"k1").contains("410104"));
    }
}
