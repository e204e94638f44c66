//! Synthetic households. Identity numbers are computed here with the GB 11643 check
//! character, independently of the service's own code.

use serde_json::{Value, json};

pub const COMMUNITY: &str = "410104003-01";
pub const OTHER_COMMUNITY: &str = "410104003-02";

/// A valid 18-character identity number for an address code, birth date (YYYYMMDD)
/// and 3-digit sequence (odd = male, even = female).
pub fn id_number(address: &str, birth: &str, seq: u32) -> String {
    let body = format!("{address}{birth}{seq:03}");
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .chars()
        .zip(weights)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// The applicant of the default household (male, born 1985-07-15).
pub const APPLICANT_ID: &str = "410104198507150037";

pub fn spouse_id() -> String {
    id_number("410104", "19870302", 24)
}

pub fn child_id() -> String {
    id_number("410104", "20150610", 11)
}

pub fn member(
    relationship: &str,
    name: &str,
    id: &str,
    gender: &str,
    marital: &str,
    income_fen: i64,
) -> Value {
    json!({
        "relationship": relationship,
        "name": name,
        "id_number": id,
        "gender": gender,
        "marital_status": marital,
        "hukou_city": "郑州",
        "hukou_since": "2005-03-01",
        "annual_income_fen": income_fen,
    })
}

fn child() -> Value {
    let mut c = member("child", "王小小", &child_id(), "male", "single", 0);
    c["hukou_since"] = json!("2015-07-01");
    c
}

/// A complete, valid three-member local household applying for public rental housing.
pub fn household() -> Value {
    json!({
        "programme": "public_rental",
        "applicant_class": "local",
        "community_code": COMMUNITY,
        "filed_at": "hukou",
        "contact_mobile": "13800001111",
        "contact_email": "wang@example.com",
        "language": "zh",
        "consent_verification": true,
        "declaration_truthful": true,
        "members": [
            member("applicant", "王小明", APPLICANT_ID, "male", "married", 3_600_000),
            member("spouse", "李小红", &spouse_id(), "female", "married", 2_400_000),
            child(),
        ],
        "housing": [{ "address": "郑州市管城区惠工街 1 号", "area_m2": 32.5, "nature": "rented_private" }],
        "transfers": [],
        "assets": { "deposits_fen": 1_000_000, "vehicles_fen": 0, "securities_fen": 0 },
        "documents": ["id_card", "hukou_book", "income_proof", "marriage_proof"],
    })
}

/// `household()` with the applicant replaced by a single person with this id number.
pub fn single_household(id: &str) -> Value {
    let mut h = household();
    h["members"] = json!([member(
        "applicant",
        "赵单身",
        id,
        gender_of(id),
        "single",
        3_000_000
    )]);
    h["documents"] = json!(["id_card"]);
    h
}

pub fn gender_of(id: &str) -> &'static str {
    let seq = id.as_bytes()[16] - b'0';
    if seq % 2 == 1 { "male" } else { "female" }
}

/// Sets `path` (dot and [i] segments) in a JSON value.
pub fn set(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    for seg in path.split('.') {
        let (name, index) = match seg.split_once('[') {
            Some((n, rest)) => (
                n,
                Some(rest.trim_end_matches(']').parse::<usize>().unwrap()),
            ),
            None => (seg, None),
        };
        cur = &mut cur[name];
        if let Some(i) = index {
            cur = &mut cur[i];
        }
    }
    *cur = new;
}

/// Removes a top-level or member field.
pub fn remove(v: &mut Value, path: &str) {
    match path.rsplit_once('.') {
        Some((parent, field)) => {
            let mut cur = &mut *v;
            for seg in parent.split('.') {
                let (name, index) = match seg.split_once('[') {
                    Some((n, rest)) => (
                        n,
                        Some(rest.trim_end_matches(']').parse::<usize>().unwrap()),
                    ),
                    None => (seg, None),
                };
                cur = &mut cur[name];
                if let Some(i) = index {
                    cur = &mut cur[i];
                }
            }
            cur.as_object_mut().unwrap().remove(field);
        }
        None => {
            v.as_object_mut().unwrap().remove(path);
        }
    }
}
