//! Every database call of the auth domain. Functions take `&impl ConnectionTrait` so
//! the service decides the transaction.

use chrono::{DateTime, Utc};
use entity::{login_throttle, session_token, staff_scope, user_account};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::OnConflict,
};

use super::domain::{LoginName, Role};

pub async fn find_user_by_login(
    db: &impl ConnectionTrait,
    login: &LoginName,
) -> Result<Option<user_account::Model>, DbErr> {
    let filter = match login {
        LoginName::Mobile(m) => user_account::Column::Mobile.eq(m.as_str()),
        LoginName::Email(e) => user_account::Column::Email.eq(e.as_str()),
    };
    user_account::Entity::find().filter(filter).one(db).await
}

pub async fn find_user(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Option<user_account::Model>, DbErr> {
    user_account::Entity::find_by_id(id).one(db).await
}

pub async fn any_admin_exists(db: &impl ConnectionTrait) -> Result<bool, DbErr> {
    Ok(user_account::Entity::find()
        .filter(user_account::Column::Role.eq(Role::Admin.as_str()))
        .one(db)
        .await?
        .is_some())
}

pub struct NewUser<'a> {
    pub role: Role,
    pub mobile: Option<&'a str>,
    pub email: Option<&'a str>,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub id_hash: Option<String>,
    pub now: DateTime<Utc>,
}

pub async fn insert_user(
    db: &impl ConnectionTrait,
    new: NewUser<'_>,
) -> Result<user_account::Model, DbErr> {
    user_account::ActiveModel {
        role: Set(new.role),
        mobile: Set(new.mobile.map(str::to_string)),
        email: Set(new.email.map(str::to_string)),
        display_name: Set(new.display_name.to_string()),
        password_hash: Set(new.password_hash.to_string()),
        disabled: Set(false),
        id_hash: Set(new.id_hash),
        created_at: Set(new.now),
        ..Default::default()
    }
    .insert(db)
    .await
}

pub async fn set_disabled(db: &impl ConnectionTrait, user_id: i64) -> Result<(), DbErr> {
    user_account::Entity::update_many()
        .col_expr(user_account::Column::Disabled, true.into())
        .filter(user_account::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Users by id, ascending, after `after_id`; optionally of one role.
pub async fn list_users(
    db: &impl ConnectionTrait,
    role: Option<Role>,
    after_id: i64,
    limit: u64,
) -> Result<Vec<user_account::Model>, DbErr> {
    let mut q = user_account::Entity::find().filter(user_account::Column::Id.gt(after_id));
    if let Some(role) = role {
        q = q.filter(user_account::Column::Role.eq(role.as_str()));
    }
    q.order_by_asc(user_account::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// The enabled accounts of `role` whose scope names `place_id` itself.
pub async fn scoped_to(
    db: &impl ConnectionTrait,
    role: Role,
    place_id: i64,
) -> Result<Vec<user_account::Model>, DbErr> {
    let ids: Vec<i64> = staff_scope::Entity::find()
        .filter(staff_scope::Column::PlaceId.eq(place_id))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.user_id)
        .collect();
    user_account::Entity::find()
        .filter(user_account::Column::Id.is_in(ids))
        .filter(user_account::Column::Role.eq(role.as_str()))
        .filter(user_account::Column::Disabled.eq(false))
        .order_by_asc(user_account::Column::DisplayName)
        .all(db)
        .await
}

pub async fn scope_of(db: &impl ConnectionTrait, user_id: i64) -> Result<Vec<i64>, DbErr> {
    Ok(staff_scope::Entity::find()
        .filter(staff_scope::Column::UserId.eq(user_id))
        .order_by_asc(staff_scope::Column::PlaceId)
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.place_id)
        .collect())
}

/// Place ids as a session stores them: "3,17"; "" for none.
fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The scope a session carries; `None` if it has none recorded (opened before sessions
/// carried it) or the copy cannot be read, and then the caller reads `scope_of`.
pub fn session_scope(session: &session_token::Model) -> Option<Vec<i64>> {
    let text = session.scope.as_deref()?;
    if text.is_empty() {
        return Some(Vec::new());
    }
    text.split(',').map(|id| id.parse().ok()).collect()
}

/// Gives a new account its scope. Only for an account being created: a session carries
/// the scope it was opened with, so a change to a user's scope must also rewrite the
/// `scope` of their live sessions.
pub async fn add_scope(
    db: &impl ConnectionTrait,
    user_id: i64,
    place_ids: &[i64],
) -> Result<(), DbErr> {
    if place_ids.is_empty() {
        return Ok(());
    }
    let rows = place_ids.iter().map(|&place_id| staff_scope::ActiveModel {
        user_id: Set(user_id),
        place_id: Set(place_id),
    });
    staff_scope::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// Opens a session carrying the user's scope as it is now (see `scope_of`).
pub async fn insert_session(
    db: &impl ConnectionTrait,
    user_id: i64,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<session_token::Model, DbErr> {
    let scope = scope_of(db, user_id).await?;
    session_token::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token_hash.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        scope: Set(Some(join_ids(&scope))),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// The live (unrevoked, unexpired) session with this token hash, and its user.
pub async fn find_live_session(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<(session_token::Model, user_account::Model)>, DbErr> {
    // One round trip: every authenticated request starts here.
    let found = session_token::Entity::find()
        .find_also_related(user_account::Entity)
        .filter(session_token::Column::TokenHash.eq(token_hash))
        .filter(session_token::Column::RevokedAt.is_null())
        .filter(session_token::Column::ExpiresAt.gt(now))
        .one(db)
        .await?;
    Ok(found.and_then(|(session, user)| user.map(|u| (session, u))))
}

pub async fn revoke_session(
    db: &impl ConnectionTrait,
    session_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    session_token::Entity::update_many()
        .col_expr(session_token::Column::RevokedAt, Some(now).into())
        .filter(session_token::Column::Id.eq(session_id))
        .filter(session_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn revoke_all_sessions(
    db: &impl ConnectionTrait,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    session_token::Entity::update_many()
        .col_expr(session_token::Column::RevokedAt, Some(now).into())
        .filter(session_token::Column::UserId.eq(user_id))
        .filter(session_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn find_throttle(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<login_throttle::Model>, DbErr> {
    login_throttle::Entity::find_by_id(key.to_string())
        .one(db)
        .await
}

/// Counts one try against `key` and returns the tries in the current window with the
/// window's start. One statement, so tries that arrive together are each counted: the
/// window restarts when the last one began more than `window` ago.
pub async fn count_try(
    db: &impl ConnectionTrait,
    key: &str,
    now: DateTime<Utc>,
    window: chrono::Duration,
) -> Result<(i32, DateTime<Utc>), DbErr> {
    use login_throttle::Column as C;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let t = login_throttle::Entity;
    let expired = Expr::col((t, C::UpdatedAt)).lt(now - window);
    let stmt = Query::insert()
        .into_table(t)
        .columns([C::LoginHash, C::Failures, C::LockedUntil, C::UpdatedAt])
        .values_panic([
            key.into(),
            1.into(),
            Option::<DateTime<Utc>>::None.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::column(C::LoginHash)
                .value(
                    C::Failures,
                    Expr::case(expired.clone(), 1).finally(Expr::col((t, C::Failures)).add(1)),
                )
                .value(
                    C::UpdatedAt,
                    Expr::case(expired, now).finally(Expr::col((t, C::UpdatedAt))),
                )
                .to_owned(),
        )
        .returning(Query::returning().columns([C::Failures, C::UpdatedAt]))
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::Custom("the try counter returned nothing".into()))?;
    Ok((row.try_get("", "failures")?, row.try_get("", "updated_at")?))
}

/// Records that a client signed in to a login name now.
pub async fn mark_known(
    db: &impl ConnectionTrait,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let active = login_throttle::ActiveModel {
        login_hash: Set(key.to_string()),
        failures: Set(0),
        locked_until: Set(None),
        updated_at: Set(now),
    };
    login_throttle::Entity::insert(active)
        .on_conflict(
            OnConflict::column(login_throttle::Column::LoginHash)
                .update_column(login_throttle::Column::UpdatedAt)
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

pub async fn clear_throttle(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    login_throttle::Entity::delete_by_id(key.to_string())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_reset(
    db: &impl ConnectionTrait,
    user_id: i64,
    token_hash: &str,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    entity::password_reset::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token_hash.to_string()),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Marks an unused, unexpired link used; the user it was for, if it was such a link.
/// One statement, so a link clicked twice at once works once.
pub async fn use_reset(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<Option<i64>, DbErr> {
    use entity::password_reset as pr;
    let Some(row) = pr::Entity::find()
        .filter(pr::Column::TokenHash.eq(token_hash))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let done = pr::Entity::update_many()
        .col_expr(pr::Column::UsedAt, Some(now).into())
        .filter(pr::Column::Id.eq(row.id))
        .filter(pr::Column::UsedAt.is_null())
        .filter(pr::Column::ExpiresAt.gt(now))
        .exec(db)
        .await?;
    Ok((done.rows_affected == 1).then_some(row.user_id))
}

/// Whether a link is still good (for showing the form; using it checks again).
pub async fn reset_is_live(
    db: &impl ConnectionTrait,
    token_hash: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use entity::password_reset as pr;
    Ok(pr::Entity::find()
        .filter(pr::Column::TokenHash.eq(token_hash))
        .filter(pr::Column::UsedAt.is_null())
        .filter(pr::Column::ExpiresAt.gt(now))
        .one(db)
        .await?
        .is_some())
}

pub async fn set_password(
    db: &impl ConnectionTrait,
    user_id: i64,
    password_hash: &str,
) -> Result<(), DbErr> {
    user_account::Entity::update_many()
        .col_expr(user_account::Column::PasswordHash, password_hash.into())
        .filter(user_account::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
