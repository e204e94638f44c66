//! Roles, the authenticated principal, login names, passwords and tokens.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::Engine;
use rand::RngCore;

use sha2::{Digest, Sha256};

use crate::error::FieldError;
use crate::i18n::Msg;
use crate::values::{Email, Mobile};

pub use crate::access::{Principal, Role, scope_kind};

/// A login name: a mobile number or an e-mail address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginName {
    Mobile(Mobile),
    Email(Email),
}

impl LoginName {
    /// Anything with an `@` is taken as an e-mail address, anything else as a mobile.
    pub fn parse(field: &str, raw: &str) -> Result<LoginName, FieldError> {
        if raw.contains('@') {
            Email::parse(field, raw).map(LoginName::Email)
        } else {
            Mobile::parse(field, raw).map(LoginName::Mobile)
        }
    }

    /// Key of the failed-login counter; hashed so the table holds no contact data.
    pub fn throttle_key(&self) -> String {
        let plain = match self {
            LoginName::Mobile(m) => format!("mobile:{}", m.as_str()),
            LoginName::Email(e) => format!("email:{}", e.as_str()),
        };
        hex::encode(Sha256::digest(plain.as_bytes()))
    }
}

pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;

/// Checks a new password's length (counted in characters).
pub fn check_new_password(field: &str, password: &str) -> Result<(), FieldError> {
    let len = password.chars().count();
    if len < PASSWORD_MIN {
        return Err(FieldError::too_short(field, PASSWORD_MIN));
    }
    if len > PASSWORD_MAX {
        return Err(FieldError::too_long(field, PASSWORD_MAX));
    }
    if password.trim().is_empty() {
        return Err(FieldError::new(
            field,
            "weak_password",
            Msg::new("密码不能全为空白", "must not be only whitespace"),
        ));
    }
    Ok(())
}

/// argon2id with the crate's default (OWASP) parameters, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A new opaque bearer token and the hash under which it is stored.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = format!(
        "anju_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash_token(&token);
    (token, hash)
}

/// SHA-256 of a token: tokens have 256 bits of entropy, so no salt or slow hash is needed.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let hash = hash_password("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse"));
        assert!(!verify_password(&hash, "correct horsE"));
        assert!(!verify_password("not a phc string", "correct horse"));
    }

    #[test]
    fn tokens_are_random_and_stored_only_as_a_hash() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), ha);
        assert!(!ha.contains(&a));
        assert_eq!(ha.len(), 64);
    }

    #[test]
    fn login_names_are_normalised_before_hashing() {
        let a = LoginName::parse("login", "+86 138-1234-5678").unwrap();
        let b = LoginName::parse("login", "13812345678").unwrap();
        assert_eq!(a.throttle_key(), b.throttle_key());
        let c = LoginName::parse("login", "Ann@Example.com").unwrap();
        let d = LoginName::parse("login", "ann@example.com").unwrap();
        assert_eq!(c.throttle_key(), d.throttle_key());
    }

    #[test]
    fn role_names_round_trip() {
        for &r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
