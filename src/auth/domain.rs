//! Roles, the authenticated principal, login names, passwords and tokens.

use argon2::{
    Algorithm, Argon2, Block, Params, PasswordHash, Version,
    password_hash::{Output, ParamsString, Salt, SaltString, rand_core::OsRng},
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

/// argon2id's working memory (19 MiB at the default parameters), kept and reused from
/// one hash to the next. Allocated afresh for each hash, the freed blocks stayed with
/// the allocator: 80 sign-ins one after the other took the server from 36 to 190 MB.
#[derive(Default)]
pub struct HashMemory(Vec<Block>);

/// argon2id with the crate's default (OWASP) parameters, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    hash_password_in(password, &mut HashMemory::default())
}

/// [`hash_password`] in the given working memory.
pub fn hash_password_in(
    password: &str,
    memory: &mut HashMemory,
) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let (algorithm, version) = (Algorithm::Argon2id, Version::V0x13);
    Ok(phc(
        password,
        algorithm,
        version,
        Params::default(),
        salt.as_salt(),
        memory,
    )?
    .to_string())
}

/// True when `password` matches the PHC string `hash`.
pub fn verify_password(hash: &str, password: &str) -> bool {
    verify_password_in(hash, password, &mut HashMemory::default())
}

/// [`verify_password`] in the given working memory: the hash is computed again with the
/// stored algorithm, version, parameters and salt, and compared in constant time.
pub fn verify_password_in(hash: &str, password: &str, memory: &mut HashMemory) -> bool {
    let Ok(stored) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (stored.salt, stored.hash) else {
        return false;
    };
    let computed = (|| {
        let algorithm = Algorithm::try_from(stored.algorithm)?;
        let version = match stored.version {
            Some(v) => Version::try_from(v)?,
            None => Version::default(),
        };
        phc(
            password,
            algorithm,
            version,
            Params::try_from(&stored)?,
            salt,
            memory,
        )
    })();
    // `Output`'s equality is constant-time.
    computed.is_ok_and(|c| c.hash == Some(expected))
}

/// What `PasswordHasher::hash_password` computes, in `memory` instead of a fresh
/// allocation.
fn phc<'a>(
    password: &str,
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Salt<'a>,
    memory: &mut HashMemory,
) -> Result<PasswordHash<'a>, argon2::password_hash::Error> {
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf)?;
    let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    if memory.0.len() < params.block_count() {
        memory.0.resize(params.block_count(), Block::default());
    }
    let argon = Argon2::new(algorithm, version, params.clone());
    let output = Output::init_with(output_len, |out| {
        Ok(argon.hash_password_into_with_memory(
            password.as_bytes(),
            salt_bytes,
            out,
            &mut memory.0[..],
        )?)
    })?;
    Ok(PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt),
        hash: Some(output),
    })
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
    fn hashes_in_reused_memory_are_the_crates_own() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let mut memory = HashMemory::default();
        // Made here, checked by the crate; made by the crate, checked here; the memory
        // used again each time, also for parameters it was not first sized for.
        let ours = hash_password_in("correct horse", &mut memory).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horsE", &parsed)
                .is_err()
        );
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password_in(&theirs, "battery staple", &mut memory));
        assert!(!verify_password_in(&theirs, "battery stapl", &mut memory));
        let bigger = Params::new(Params::DEFAULT_M_COST * 2, 1, 1, None).unwrap();
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, bigger)
            .hash_password(b"battery staple", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password_in(&other, "battery staple", &mut memory));
        assert!(verify_password_in(&ours, "correct horse", &mut memory));
        assert!(!verify_password_in(
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ",
            "x",
            &mut memory
        ));
    }

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
