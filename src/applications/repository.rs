//! Every database call of the applications domain. Queries over cases start from a
//! scoped constructor (`for_applicant`, `in_communities`), never from a bare `find()`.

use entity::{
    app_secret, application, application_event, duplicate_flag, idempotency_record, member_key,
    number_sequence,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};

use crate::reports::counters::{self, CaseFacts};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select,
};

/// Cases filed by one applicant account.
pub fn for_applicant(user_id: i64) -> Select<application::Entity> {
    application::Entity::find().filter(application::Column::ApplicantId.eq(user_id))
}

/// Cases filed in any of these communities (staff scope).
pub fn in_communities(ids: &[i64]) -> Select<application::Entity> {
    application::Entity::find().filter(application::Column::CommunityId.is_in(ids.iter().copied()))
}

/// One page of a scoped query, newest first, with ids below `before`.
pub async fn page(
    db: &impl ConnectionTrait,
    scoped: Select<application::Entity>,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    let mut q = scoped;
    if let Some(b) = before {
        q = q.filter(application::Column::Id.lt(b));
    }
    q.order_by_desc(application::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

pub async fn insert(
    db: &impl ConnectionTrait,
    row: application::ActiveModel,
) -> Result<application::Model, DbErr> {
    row.insert(db).await
}

/// Updates a case only if it is still at `version`; returns whether it was.
pub async fn update_guarded(
    db: &impl ConnectionTrait,
    id: i64,
    version: i32,
    mut changes: application::ActiveModel,
) -> Result<bool, DbErr> {
    changes.version = Set(version + 1);
    let res = application::Entity::update_many()
        .set(changes)
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(version))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn delete_guarded(
    db: &impl ConnectionTrait,
    id: i64,
    version: i32,
) -> Result<bool, DbErr> {
    let res = application::Entity::delete_many()
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(version))
        .filter(application::Column::Status.eq(entity::enums::CaseStatus::Draft))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Writes an event and, in the same transaction, keeps the report counters in step
/// (`case` as it was before the change the event records).
pub async fn insert_event(
    db: &impl ConnectionTrait,
    case: &CaseFacts,
    row: application_event::ActiveModel,
) -> Result<application_event::Model, DbErr> {
    let (Some(action), Some(to), Some(at)) = (
        row.action.try_as_ref(),
        row.to_status.try_as_ref(),
        row.created_at.try_as_ref(),
    ) else {
        return Err(DbErr::Custom(
            "an event needs action, to_status and time".into(),
        ));
    };
    let from = row.from_status.try_as_ref().copied().flatten();
    counters::on_event(
        db,
        case,
        action.as_str(),
        from.map(|s| s.as_str()),
        to.as_str(),
        *at,
    )
    .await?;
    row.insert(db).await
}

pub async fn events_of(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Vec<application_event::Model>, DbErr> {
    application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(id))
        .order_by_asc(application_event::Column::Id)
        .all(db)
        .await
}

pub async fn replace_member_keys(
    db: &impl ConnectionTrait,
    id: i64,
    hashes: &[String],
) -> Result<(), DbErr> {
    member_key::Entity::delete_many()
        .filter(member_key::Column::ApplicationId.eq(id))
        .exec(db)
        .await?;
    if hashes.is_empty() {
        return Ok(());
    }
    let rows = hashes
        .iter()
        .enumerate()
        .map(|(i, h)| member_key::ActiveModel {
            application_id: Set(id),
            member_index: Set(i as i32),
            id_hash: Set(h.clone()),
        });
    member_key::Entity::insert_many(rows).exec(db).await?;
    Ok(())
}

/// Member keys of other cases with any of these hashes.
pub async fn keys_matching(
    db: &impl ConnectionTrait,
    hashes: &[String],
    except_application: i64,
) -> Result<Vec<member_key::Model>, DbErr> {
    member_key::Entity::find()
        .filter(member_key::Column::IdHash.is_in(hashes.iter().cloned()))
        .filter(member_key::Column::ApplicationId.ne(except_application))
        .all(db)
        .await
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<application::Model>, DbErr> {
    application::Entity::find_by_id(id).one(db).await
}

pub async fn insert_flag(
    db: &impl ConnectionTrait,
    row: duplicate_flag::ActiveModel,
) -> Result<(), DbErr> {
    row.insert(db).await?;
    Ok(())
}

pub async fn flags_of(
    db: &impl ConnectionTrait,
    id: i64,
) -> Result<Vec<duplicate_flag::Model>, DbErr> {
    duplicate_flag::Entity::find()
        .filter(duplicate_flag::Column::ApplicationId.eq(id))
        .order_by_asc(duplicate_flag::Column::Id)
        .all(db)
        .await
}

/// The next value of a gap-free counter. Runs inside the caller's write transaction:
/// the row lock (PostgreSQL) or the write lock (SQLite) serialises concurrent callers,
/// and a rolled-back transaction takes its number back with it.
pub async fn next_in_sequence(db: &impl ConnectionTrait, scope: &str) -> Result<i64, DbErr> {
    reserve_in_sequence(db, scope, 1).await
}

/// Reserves `count` consecutive values of a counter; returns the last one.
pub async fn reserve_in_sequence(
    db: &impl ConnectionTrait,
    scope: &str,
    count: i64,
) -> Result<i64, DbErr> {
    let stmt = Query::insert()
        .into_table(number_sequence::Entity)
        .columns([
            number_sequence::Column::Scope,
            number_sequence::Column::LastValue,
        ])
        .values_panic([scope.into(), count.into()])
        .on_conflict(
            OnConflict::column(number_sequence::Column::Scope)
                .value(
                    number_sequence::Column::LastValue,
                    Expr::col((number_sequence::Entity, number_sequence::Column::LastValue))
                        .add(count),
                )
                .to_owned(),
        )
        .returning_col(number_sequence::Column::LastValue)
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::Custom(format!("sequence {scope} returned nothing")))?;
    row.try_get("", "last_value")
}

pub async fn find_idempotency(
    db: &impl ConnectionTrait,
    user_id: i64,
    key: &str,
) -> Result<Option<idempotency_record::Model>, DbErr> {
    idempotency_record::Entity::find_by_id((user_id, key.to_string()))
        .one(db)
        .await
}

pub async fn insert_idempotency(
    db: &impl ConnectionTrait,
    row: idempotency_record::Model,
) -> Result<(), DbErr> {
    idempotency_record::ActiveModel::from(row)
        .insert(db)
        .await?;
    Ok(())
}

pub async fn secret(db: &impl ConnectionTrait, name: &str) -> Result<Option<String>, DbErr> {
    Ok(app_secret::Entity::find_by_id(name.to_string())
        .one(db)
        .await?
        .map(|s| s.value))
}

/// Stores a secret unless one is already there (two instances starting at once keep
/// the first).
pub async fn insert_secret(
    db: &impl ConnectionTrait,
    name: &str,
    value: &str,
) -> Result<(), DbErr> {
    app_secret::Entity::insert(app_secret::ActiveModel {
        name: Set(name.to_string()),
        value: Set(value.to_string()),
    })
    .on_conflict_do_nothing_on([app_secret::Column::Name])
    .exec(db)
    .await?;
    Ok(())
}

/// Marks cases as having an open duplicate flag.
pub async fn mark_duplicate_open(db: &impl ConnectionTrait, ids: &[i64]) -> Result<(), DbErr> {
    application::Entity::update_many()
        .col_expr(application::Column::DuplicateOpen, true.into())
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn record_access(
    db: &impl ConnectionTrait,
    application_id: i64,
    user_id: i64,
    what: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    entity::case_access::ActiveModel {
        application_id: Set(application_id),
        user_id: Set(user_id),
        what: Set(what.to_string()),
        at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

pub async fn access_of(
    db: &impl ConnectionTrait,
    application_id: i64,
) -> Result<Vec<entity::case_access::Model>, DbErr> {
    entity::case_access::Entity::find()
        .filter(entity::case_access::Column::ApplicationId.eq(application_id))
        .order_by_asc(entity::case_access::Column::Id)
        .all(db)
        .await
}
