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

#[tokio::test]
async fn a_group_commits_together_and_its_failing_submissions_take_back_only_their_own_writes() {
    let app = grouping_by(4).await;
    let first = app.applicant("13800008801").await;
    let second = app.applicant("13800008802").await;
    let third = app.applicant("13800008803").await;
    let (draft, version) = app.draft(&third, &household()).await;

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
        app.state.cache::<GroupCommit>().totals(),
        (1, 4),
        "the four submissions were one group"
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
    assert_eq!(app.count(application::Entity).await, 3);
    assert_eq!(app.count(idempotency_record::Entity).await, 2);

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
