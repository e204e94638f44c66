//! The group writer (`db::group`): submissions queued together commit as one, each is
//! answered after that commit, and one that fails takes back only its own writes.

use anju::db::group::GroupCommit;
use entity::{application, duplicate_flag, idempotency_record};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::applications::one_shot;
use crate::fixtures::*;
use crate::helpers::TestApp;

/// A writer that closes a group only when it holds `size` jobs (or after half a
/// minute, which fails the tests below: they send exactly that many at once).
async fn grouping_by(size: usize) -> TestApp {
    TestApp::spawn_with(|s| {
        s.group_commit_max = size;
        s.group_commit_wait_ms = 30_000;
    })
    .await
}

fn sequence(number: &serde_json::Value) -> u32 {
    let n = number.as_str().expect("a number");
    n.rsplit('-').next().unwrap().parse().unwrap()
}

/// Whether this run is on PostgreSQL, where single writes (drafts, a saved draft's
/// submission) take transactions of their own in parallel and only batches (one-shot
/// filings) go to the writer.
fn on_postgres() -> bool {
    std::env::var("ANJU_TEST_POSTGRES_URL").is_ok()
}

#[tokio::test]
async fn a_group_commits_together_and_its_failing_submissions_take_back_only_their_own_writes() {
    // The writer's jobs below: three filings, and on SQLite the stale submission too.
    let queued = if on_postgres() { 3 } else { 4 };
    let app = grouping_by(queued).await;
    let first = app.applicant("13800008801").await;
    let second = app.applicant("13800008802").await;
    let third = app.applicant("13800008803").await;
    // On SQLite drafts are saved through the writer too: as many as close a group.
    let form = household();
    let ((draft, version), _, _, _) = tokio::join!(
        app.draft(&third, &form),
        app.draft(&third, &form),
        app.draft(&third, &form),
        async {
            if !on_postgres() {
                app.draft(&third, &form).await;
            }
        },
    );
    let drafts = if on_postgres() { 3 } else { 4 };
    let writer = app.state.cache::<GroupCommit>();
    let (groups, jobs) = writer.totals();

    // In one group: a household, the same request again (same key, same body), a
    // saved draft submitted with a stale version, and the spouse applying on her own.
    let (family, stale_version) = (household(), json!({ "version": version + 7 }));
    let alone = single_household(&spouse_id());
    let (a, again, stale, spouse) = tokio::join!(
        one_shot(&app, &first, "family", &family),
        one_shot(&app, &first, "family", &family),
        app.submit(&third, draft, "stale", &stale_version),
        one_shot(&app, &second, "spouse", &alone),
    );
    assert_eq!(
        writer.totals(),
        (groups + 1, jobs + queued as u64),
        "the submissions were one group"
    );

    // The repeated key filed once: both answers name the one case.
    let (a, again) = (a.expect(201).clone(), again.expect(201).clone());
    assert_eq!(a["id"], again["id"]);
    // The stale submission failed alone and left its draft as it was.
    assert_eq!(stale.status.as_u16(), 409, "{}", stale.body);
    let kept = app
        .get(&format!("/api/v1/applications/{draft}"), Some(&third))
        .await;
    let kept = kept.expect(200);
    assert_eq!(kept["status"], "draft");
    assert_eq!(kept["version"], version);
    assert!(kept["number"].is_null(), "{kept}");
    let spouse = spouse.expect(201).clone();

    // Gap-free: whichever of the two identical requests ran second took a number in its
    // savepoint and gave it back with the rest of its writes.
    let mut numbers = vec![sequence(&a["number"]), sequence(&spouse["number"])];
    numbers.sort();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(app.count(application::Entity).await, 2 + drafts);
    assert_eq!(app.count(idempotency_record::Entity).await, 2);
    // Nobody is told about what was rolled back: a receipt and a result for each case.
    assert_eq!(app.count(entity::outbox_message::Entity).await, 4);

    // The two households of one group share the spouse, and flag each other.
    let flags = duplicate_flag::Entity::find()
        .all(&app.state.db)
        .await
        .unwrap();
    let mut pairs: Vec<(i64, i64)> = flags
        .iter()
        .map(|f| (f.application_id, f.other_application_id))
        .collect();
    pairs.sort();
    let (x, y) = (a["id"].as_i64().unwrap(), spouse["id"].as_i64().unwrap());
    let mut expected = vec![(x, y), (y, x)];
    expected.sort();
    assert_eq!(pairs, expected);
}

#[tokio::test]
async fn groups_of_submissions_number_gap_free_and_count_every_case_once() {
    use anju::lifecycle::counters;
    let app = grouping_by(5).await;
    let t = app.applicant("13800008810").await;
    let forms: Vec<_> = (0..10u32)
        .map(|i| {
            let id = id_number("410104", "19800101", 100 + i);
            (format!("burst-{i}"), single_household(&id))
        })
        .collect();
    let filed =
        futures_util::future::join_all(forms.iter().map(|(key, f)| one_shot(&app, &t, key, f)))
            .await;
    assert_eq!(app.state.cache::<GroupCommit>().totals(), (2, 10));
    let mut numbers: Vec<u32> = filed
        .iter()
        .map(|a| sequence(&a.expect(201)["number"]))
        .collect();
    numbers.sort();
    assert_eq!(numbers, (1..=10).collect::<Vec<_>>());
    counters::fold_all(&app.state.db).await.unwrap();
    assert_eq!(
        counters::stored(&app.state.db).await.unwrap(),
        counters::recount(&app.state.db).await.unwrap()
    );
}

/// What a case is, as far as the way it was filed must not change it.
async fn shape(app: &TestApp, id: i64, number: &str) -> serde_json::Value {
    use entity::{application_event, eligibility_decision, member_key, outbox_message};
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
    let db = &app.state.db;
    let case = application::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let events = application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.eq(id))
        .order_by_asc(application_event::Column::Id)
        .all(db)
        .await
        .unwrap();
    let messages = outbox_message::Entity::find()
        .filter(outbox_message::Column::ApplicationId.eq(id))
        .order_by_asc(outbox_message::Column::Id)
        .all(db)
        .await
        .unwrap();
    let decisions = eligibility_decision::Entity::find()
        .filter(eligibility_decision::Column::ApplicationId.eq(id))
        .all(db)
        .await
        .unwrap();
    let keys = member_key::Entity::find()
        .filter(member_key::Column::ApplicationId.eq(id))
        .all(db)
        .await
        .unwrap();
    json!({
        "status": case.status.as_str(),
        "version": case.version,
        "policy_version": case.policy_version,
        "warnings": case.warnings,
        "warnings_open": case.warnings_open,
        "household_size": case.household_size,
        "programme": format!("{:?}", case.programme),
        "community": case.community_id,
        "submitted": case.submitted_at.is_some(),
        "number_matches_receipt": case.number.as_deref() == Some(number),
        "events": events.iter().map(|e| json!([
            format!("{:?}", e.action), format!("{:?}", e.from_status), format!("{:?}", e.to_status),
            e.actor_id.is_some(), e.policy_version,
        ])).collect::<Vec<_>>(),
        "messages": messages.iter().map(|m| json!([
            m.kind, m.recipient, format!("{:?}", m.language),
            // Each message belongs to one of the case's events.
            events.iter().any(|e| Some(e.id) == m.event_id),
            m.body_text.contains(number),
        ])).collect::<Vec<_>>(),
        "decisions": decisions.iter().map(|d| json!([
            d.policy_version, d.eligible, d.flagged,
            events.last().map(|e| e.id) == Some(d.event_id),
        ])).collect::<Vec<_>>(),
        "member_keys": keys.len(),
    })
}

#[tokio::test]
async fn a_filing_stored_with_its_group_is_the_case_a_draft_submitted_at_once_would_be() {
    use anju::lifecycle::counters;
    let app = TestApp::spawn().await;
    let (a, b) = (
        app.applicant("13800008821").await,
        app.applicant("13800008822").await,
    );
    // Two people alike in all that decides a case, one filed each way.
    let one = single_household(&id_number("410104", "19800101", 211));
    let two = single_household(&id_number("410104", "19800101", 231));
    let filed = one_shot(&app, &a, "compare", &one)
        .await
        .expect(201)
        .clone();
    let drafted = app.file(&b, &two).await;
    let filed_shape = shape(
        &app,
        filed["id"].as_i64().unwrap(),
        filed["number"].as_str().unwrap(),
    )
    .await;
    let drafted_shape = shape(
        &app,
        drafted["application_id"].as_i64().unwrap(),
        drafted["number"].as_str().unwrap(),
    )
    .await;
    assert_eq!(filed_shape, drafted_shape);
    assert_eq!(filed_shape["events"].as_array().unwrap().len(), 2);
    assert_eq!(filed_shape["messages"].as_array().unwrap().len(), 2);
    assert_eq!(app.count(idempotency_record::Entity).await, 2);
    counters::fold_all(&app.state.db).await.unwrap();
    assert_eq!(
        counters::stored(&app.state.db).await.unwrap(),
        counters::recount(&app.state.db).await.unwrap()
    );
}
