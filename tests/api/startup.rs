//! Instances starting together on one empty database (a restart of a cluster, a deploy):
//! every one comes up, the schema is made once and there is one first admin.

use std::sync::Arc;

use anju::clock::ManualClock;
use anju::settings::Settings;
use chrono::{TimeZone, Utc};
use entity::user_account;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::helpers::fresh_database_url;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_starting_together_all_come_up_with_one_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database_url(dir.path()).await;
    let settings = Settings {
        database_url: url,
        db_pool_size: 3,
        bootstrap_admin_login: Some("admin@example.org".into()),
        bootstrap_admin_password: Some("a-long-password".into()),
        ..Settings::default()
    };
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap());
    let starts: Vec<_> = (0..3)
        .map(|_| {
            let (s, c) = (settings.clone(), clock.clone());
            tokio::spawn(async move { anju::startup::prepare(s, Arc::new(c)).await })
        })
        .collect();
    let mut states = Vec::new();
    for s in starts {
        states.push(s.await.unwrap().expect("every instance starts"));
    }
    let admins = user_account::Entity::find()
        .filter(user_account::Column::Email.eq("admin@example.org"))
        .all(&states[0].db)
        .await
        .unwrap();
    assert_eq!(admins.len(), 1);
    assert_eq!(
        anju::db::secret(&states[0].db, "id_hash_key")
            .await
            .unwrap(),
        anju::db::secret(&states[2].db, "id_hash_key")
            .await
            .unwrap(),
        "one hashing key for all"
    );
    assert_eq!(states[1].id_hash_key, states[2].id_hash_key);
}
