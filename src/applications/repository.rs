//! Every database call of the applications domain. Queries over cases start from a
//! scoped constructor (`for_applicant`, `in_communities`), never from a bare `find()`.
//! Status changes are not here: they are the case writer's (`crate::lifecycle`).

use chrono::{DateTime, Utc};
use entity::{application, case_access, duplicate_flag, idempotency_record, member_key};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use super::domain::Warning;
use super::form::Form;
use crate::lifecycle::Status;

/// The stored form, or an error naming the case: an unreadable form is never an empty one.
pub fn form_of(m: &application::Model) -> Result<Form, DbErr> {
    serde_json::from_value(m.form.clone())
        .map_err(|e| DbErr::Json(format!("application {} has an unreadable form: {e}", m.id)))
}

/// The stored warnings, or an error naming the case.
pub fn warnings_of(m: &application::Model) -> Result<Vec<Warning>, DbErr> {
    serde_json::from_value(m.warnings.clone())
        .map_err(|e| DbErr::Json(format!("application {} has unreadable warnings: {e}", m.id)))
}

/// Cases filed by one applicant account.
pub fn for_applicant(user_id: i64) -> Select<application::Entity> {
    application::Entity::find().filter(application::Column::ApplicantId.eq(user_id))
}

/// Cases filed in any of these communities (staff scope).
pub fn in_communities(ids: &[i64]) -> Select<application::Entity> {
    application::Entity::find().filter(application::Column::CommunityId.is_in(ids.iter().copied()))
}

/// The cases a staff member may list: submitted cases in their communities (no draft
/// but their own counter drafts), none their own household is in.
pub fn for_staff(
    communities: &[i64],
    user_id: i64,
    id_hash: Option<&str>,
) -> Select<application::Entity> {
    use sea_orm::sea_query::Query;
    let drafts_ok = Condition::any()
        .add(application::Column::Status.ne(Status::Draft))
        .add(application::Column::EnteredBy.eq(user_id));
    let mut q = in_communities(communities).filter(drafts_ok);
    if let Some(hash) = id_hash {
        q = q.filter(
            application::Column::Id.not_in_subquery(
                Query::select()
                    .column(member_key::Column::ApplicationId)
                    .from(member_key::Entity)
                    .and_where(member_key::Column::IdHash.eq(hash))
                    .to_owned(),
            ),
        );
    }
    q
}

/// Every case, for the service's own jobs (closing notice windows), never for a person.
pub fn everywhere() -> Select<application::Entity> {
    application::Entity::find()
}

/// Cases holding a housing benefit (one benefit per person).
pub async fn holding_benefit(db: &impl ConnectionTrait) -> Result<Vec<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::Status.is_in([
            Status::Approved,
            Status::Waitlisted,
            Status::Offered,
            Status::Allocated,
        ]))
        .all(db)
        .await
}

pub async fn keys_of(
    db: &impl ConnectionTrait,
    case_ids: &[i64],
) -> Result<Vec<member_key::Model>, DbErr> {
    member_key::Entity::find()
        .filter(member_key::Column::ApplicationId.is_in(case_ids.iter().copied()))
        .all(db)
        .await
}

/// A page by id of the submitted, not withdrawn cases of a programme (in these
/// communities, or everywhere), for policy simulation.
pub async fn decided_page(
    db: &impl ConnectionTrait,
    programme: entity::enums::Programme,
    communities: Option<&[i64]>,
    after: i64,
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    let mut q = application::Entity::find()
        .filter(application::Column::Id.gt(after))
        .filter(application::Column::Programme.eq(programme))
        .filter(application::Column::Status.is_not_in([Status::Draft, Status::Withdrawn]));
    if let Some(ids) = communities {
        q = q.filter(application::Column::CommunityId.is_in(ids.iter().copied()));
    }
    q.order_by_asc(application::Column::Id)
        .limit(limit)
        .all(db)
        .await
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

/// Rows of a scoped query matching `cond`, in `order`, at most `limit`.
pub async fn matching(
    db: &impl ConnectionTrait,
    scoped: Select<application::Entity>,
    cond: Condition,
    order: &[(application::Column, sea_orm::Order)],
    limit: u64,
) -> Result<Vec<application::Model>, DbErr> {
    ordered(scoped, cond, order, limit).all(db).await
}

/// [`matching`], as lists show the cases (no form, no warnings).
pub async fn matching_listed(
    db: &impl ConnectionTrait,
    scoped: Select<application::Entity>,
    cond: Condition,
    order: &[(application::Column, sea_orm::Order)],
    limit: u64,
) -> Result<Vec<application::Listed>, DbErr> {
    ordered(scoped, cond, order, limit)
        .into_partial_model::<application::Listed>()
        .all(db)
        .await
}

fn ordered(
    scoped: Select<application::Entity>,
    cond: Condition,
    order: &[(application::Column, sea_orm::Order)],
    limit: u64,
) -> Select<application::Entity> {
    let mut q = scoped.filter(cond);
    for (col, dir) in order {
        q = q.order_by(*col, dir.clone());
    }
    q.limit(limit)
}

/// How many rows of a scoped query match `cond`.
pub async fn count_matching(
    db: &impl ConnectionTrait,
    scoped: Select<application::Entity>,
    cond: Condition,
) -> Result<u64, DbErr> {
    scoped.filter(cond).count(db).await
}

/// Open drafts an account has: its own online ones, or the counter ones it entered.
pub async fn count_drafts(db: &impl ConnectionTrait, user_id: i64) -> Result<u64, DbErr> {
    application::Entity::find()
        .filter(application::Column::Status.eq(Status::Draft))
        .filter(
            Condition::any()
                .add(application::Column::ApplicantId.eq(user_id))
                .add(application::Column::EnteredBy.eq(user_id)),
        )
        .count(db)
        .await
}

pub async fn insert(
    db: &impl ConnectionTrait,
    row: application::ActiveModel,
) -> Result<application::Model, DbErr> {
    row.insert(db).await
}

/// Changes a draft's form columns if it is still at `version` (drafts have no status
/// change, so this is not the writer's); returns the new row.
pub async fn update_draft(
    db: &impl ConnectionTrait,
    id: i64,
    version: i32,
    mut changes: application::ActiveModel,
) -> Result<Option<application::Model>, DbErr> {
    changes.version = Set(version + 1);
    Ok(application::Entity::update_many()
        .set(changes)
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(version))
        .filter(application::Column::Status.is_in([Status::Draft, Status::NeedsCorrection]))
        .exec_with_returning(db)
        .await?
        .pop())
}

pub async fn delete_draft(db: &impl ConnectionTrait, id: i64, version: i32) -> Result<bool, DbErr> {
    let res = application::Entity::delete_many()
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Version.eq(version))
        .filter(application::Column::Status.eq(Status::Draft))
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

pub async fn by_ids(
    db: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<Vec<application::Model>, DbErr> {
    // No statement for no ids (a case without duplicate flags, most of them).
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    application::Entity::find()
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await
}

/// Waiting households of the programmes, by waiting-list number.
pub async fn waiting(
    db: &impl ConnectionTrait,
    programmes: &[entity::enums::Programme],
) -> Result<Vec<application::Model>, DbErr> {
    use sea_orm::QueryOrder;
    application::Entity::find()
        .filter(application::Column::Status.eq(entity::enums::CaseStatus::Waitlisted))
        .filter(application::Column::Programme.is_in(programmes.iter().copied()))
        .order_by_asc(application::Column::WaitlistNumber)
        .order_by_asc(application::Column::Id)
        .all(db)
        .await
}

pub async fn find(db: &impl ConnectionTrait, id: i64) -> Result<Option<application::Model>, DbErr> {
    application::Entity::find_by_id(id).one(db).await
}

pub async fn by_number(
    db: &impl ConnectionTrait,
    number: &str,
) -> Result<Option<application::Model>, DbErr> {
    application::Entity::find()
        .filter(application::Column::Number.eq(number))
        .one(db)
        .await
}

/// Writes a case's member keys, first removing its earlier ones when it `had_keys` (a
/// resubmission; a first submission has none, and skips the statement).
pub async fn replace_member_keys(
    db: &impl ConnectionTrait,
    id: i64,
    hashes: &[String],
    had_keys: bool,
) -> Result<(), DbErr> {
    if had_keys {
        member_key::Entity::delete_many()
            .filter(member_key::Column::ApplicationId.eq(id))
            .exec(db)
            .await?;
    }
    if hashes.is_empty() {
        return Ok(());
    }
    member_key::Entity::insert_many(key_rows(id, hashes))
        .exec(db)
        .await?;
    Ok(())
}

pub fn key_rows(id: i64, hashes: &[String]) -> Vec<member_key::ActiveModel> {
    hashes
        .iter()
        .enumerate()
        .map(|(i, h)| member_key::ActiveModel {
            application_id: Set(id),
            member_index: Set(i as i32),
            id_hash: Set(h.clone()),
        })
        .collect()
}

pub async fn insert_keys(
    db: &impl ConnectionTrait,
    rows: Vec<member_key::ActiveModel>,
) -> Result<(), DbErr> {
    for chunk in rows.chunks(2000) {
        member_key::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await?;
    }
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

/// Whether any member of the case has this keyed hash.
pub async fn has_member_hash(
    db: &impl ConnectionTrait,
    case_id: i64,
    hash: &str,
) -> Result<bool, DbErr> {
    Ok(member_key::Entity::find()
        .filter(member_key::Column::ApplicationId.eq(case_id))
        .filter(member_key::Column::IdHash.eq(hash))
        .one(db)
        .await?
        .is_some())
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

/// Resolves a flag and its mirror on the other case.
pub async fn resolve_flag_pair(
    db: &impl ConnectionTrait,
    flag: &duplicate_flag::Model,
    resolution: &str,
    by: i64,
    note: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    duplicate_flag::Entity::update_many()
        .col_expr(duplicate_flag::Column::Resolution, resolution.into())
        .col_expr(duplicate_flag::Column::ResolvedBy, Some(by).into())
        .col_expr(duplicate_flag::Column::ResolvedAt, Some(at).into())
        .col_expr(
            duplicate_flag::Column::Note,
            note.map(str::to_string).into(),
        )
        .filter(
            Condition::any()
                .add(duplicate_flag::Column::Id.eq(flag.id))
                .add(
                    Condition::all()
                        .add(duplicate_flag::Column::ApplicationId.eq(flag.other_application_id))
                        .add(duplicate_flag::Column::OtherApplicationId.eq(flag.application_id))
                        .add(duplicate_flag::Column::MemberIndex.eq(flag.other_member_index)),
                ),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// Sets a case's open-duplicate marker (a derived index helper kept in step with its
/// flags, not case state: it changes without an event).
pub async fn set_duplicate_open(
    db: &impl ConnectionTrait,
    ids: &[i64],
    open: bool,
) -> Result<(), DbErr> {
    // Lock the rows in id order first. One UPDATE over many rows locks them in the order
    // it happens to scan them, and two submissions flagging the same earlier cases
    // deadlocked on PostgreSQL once the number row no longer queued them (24 racing
    // filings, `reports::folds_racing_submissions_fold_every_delta_exactly_once`).
    // `NO KEY UPDATE`, what the UPDATE itself takes: it does not wait on the key-share
    // locks other submissions' new flags hold on these rows.
    if ids.len() > 1 {
        let _: Vec<i64> = application::Entity::find()
            .select_only()
            .column(application::Column::Id)
            .filter(application::Column::Id.is_in(ids.iter().copied()))
            .order_by_asc(application::Column::Id)
            .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
            .into_tuple()
            .all(db)
            .await?;
    }
    application::Entity::update_many()
        .col_expr(application::Column::DuplicateOpen, open.into())
        .filter(application::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    Ok(())
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

/// The idempotency records of any of these (user, key) pairs (one statement; the
/// caller matches the pairs).
pub async fn find_idempotency_many(
    db: &impl ConnectionTrait,
    keys: &[(i64, String)],
) -> Result<Vec<idempotency_record::Model>, DbErr> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    idempotency_record::Entity::find()
        .filter(idempotency_record::Column::Key.is_in(keys.iter().map(|k| k.1.clone())))
        .filter(idempotency_record::Column::UserId.is_in(keys.iter().map(|k| k.0)))
        .all(db)
        .await
        .map(|found| {
            found
                .into_iter()
                .filter(|r| keys.iter().any(|k| k.0 == r.user_id && k.1 == r.key))
                .collect()
        })
}

/// Records many idempotency keys with one statement.
pub async fn insert_idempotency_many(
    db: &impl ConnectionTrait,
    rows: Vec<idempotency_record::Model>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    idempotency_record::Entity::insert_many(
        rows.into_iter().map(idempotency_record::ActiveModel::from),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
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

/// Puts staff views of cases on record, in one statement.
pub async fn record_access_many(
    db: &impl ConnectionTrait,
    views: Vec<super::service::Viewed>,
) -> Result<(), DbErr> {
    if views.is_empty() {
        return Ok(());
    }
    let rows = views.into_iter().map(|v| case_access::ActiveModel {
        application_id: Set(v.application_id),
        user_id: Set(v.user_id),
        what: Set(v.what.to_string()),
        at: Set(v.at),
        ..Default::default()
    });
    case_access::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn access_of(
    db: &impl ConnectionTrait,
    application_id: i64,
) -> Result<Vec<case_access::Model>, DbErr> {
    case_access::Entity::find()
        .filter(case_access::Column::ApplicationId.eq(application_id))
        .order_by_asc(case_access::Column::Id)
        .all(db)
        .await
}
