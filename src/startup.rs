//! Builds the application: state, routes, middleware. `anju serve` and the tests use
//! the same `build_app`, so what the tests exercise is what runs.

use std::sync::Arc;

use poem::{Endpoint, EndpointExt, Route, middleware::CatchPanic};
use sea_orm::DatabaseConnection;

use crate::clock::Clock;
use crate::http::body::BodyLimit;
use crate::settings::Settings;
pub use crate::state::AppState;

/// Connects, migrates and prepares the state the server runs on.
pub async fn prepare(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    crate::http::client::TrustedProxies::parse(&settings.trusted_proxies)
        .map_err(anyhow::Error::msg)?;
    // Before connecting: a restore under way finishes first, and none starts later.
    let url = settings.database_url.clone();
    let in_use =
        tokio::task::spawn_blocking(move || crate::db::backup::hold_in_use(&url)).await??;
    let db = crate::db::connect(&settings.database_url, settings.pool_size()).await?;
    // Everything that writes at start happens under the start-up lock, so instances
    // starting together on one database all come up.
    let lock = crate::db::startup_lock(&settings.database_url).await?;
    let state = seed(db, settings, clock).await;
    lock.release().await?;
    let mut state = state?;
    state.in_use = in_use.map(Arc::new);
    if let Some(read) = state.settings.database_read_url.clone() {
        state.reads = crate::db::connect(&read, state.settings.pool_size()).await?;
        let lag = crate::db::replica_lag(&state).await;
        tracing::info!(lag_seconds = ?lag, "reports read from the replica");
    }
    Ok(state)
}

/// The start-up writes: migrations, shipped policies, counters, keys, the first admin.
async fn seed(
    db: DatabaseConnection,
    settings: Settings,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<AppState> {
    crate::db::migrate(&db).await?;
    crate::eligibility::service::ensure_default_policies(&db, clock.now()).await?;
    if crate::lifecycle::counters::ensure(&db).await? {
        tracing::info!("rebuilt the report counters from the event log");
    }
    let mut state = AppState::new(db, settings, clock);
    crate::access::install(
        &state,
        std::sync::Arc::new(crate::auth::service::TokenCheck),
    );
    if state.settings.id_hash_key.is_none() {
        state.id_hash_key = stored_id_hash_key(&state.db).await?.into_bytes().into();
    }
    if let Some(admin) = crate::auth::service::ensure_bootstrap_admin(&state).await? {
        tracing::info!(
            user_id = admin.user.id,
            "created the bootstrap admin account"
        );
    }
    Ok(state)
}

/// Starts the periodic jobs of `anju serve`: folding the report counters' deltas, and
/// every minute closing ended notice windows and the annual re-verification.
pub fn spawn_background(state: &AppState) {
    spawn_counter_folder(state);
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            match crate::review::notice::close_due_notices(&state, None).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(cases = n, "closed ended notice windows"),
                Err(e) => tracing::warn!(error = %e, "closing notice windows failed"),
            }
            match crate::applications::reverification::tick(&state).await {
                Ok(t) if t == Default::default() => {}
                Ok(t) => tracing::info!(
                    reminded = t.reminded,
                    exited = t.exited,
                    "annual re-verification"
                ),
                Err(e) => tracing::warn!(error = %e, "the re-verification run failed"),
            }
        }
    });
}

/// Folds the report counters' pending deltas every `counter_fold_ms`.
fn spawn_counter_folder(state: &AppState) {
    let db = state.db.clone();
    let every = std::time::Duration::from_millis(state.settings.counter_fold_ms.max(10));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match crate::lifecycle::counters::fold(&db).await {
                Ok(n) => tracing::debug!(deltas = n, "folded report counters"),
                Err(e) => tracing::warn!(error = %e, "folding the report counters failed"),
            }
        }
    });
}

/// `/metrics` in the Prometheus text format; with a token, only for requests bearing it.
pub fn metrics_endpoint(state: AppState) -> impl Endpoint + use<> {
    let token = state.settings.metrics_token.clone();
    poem::endpoint::make(move |req: poem::Request| {
        let state = state.clone();
        let token = token.clone();
        async move {
            if let Some(token) = &token {
                let given = req
                    .headers()
                    .get(poem::http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or("");
                let same = given.len() == token.len()
                    && given
                        .bytes()
                        .zip(token.bytes())
                        .fold(0u8, |a, (x, y)| a | (x ^ y))
                        == 0;
                if !same {
                    return Ok::<_, poem::Error>(
                        poem::Response::builder()
                            .status(poem::http::StatusCode::UNAUTHORIZED)
                            .header("www-authenticate", "Bearer")
                            .finish(),
                    );
                }
            }
            Ok(match crate::health::metrics::render(&state).await {
                Some(text) => poem::Response::builder()
                    .content_type("text/plain; version=0.0.4; charset=utf-8")
                    .body(text),
                None => poem::Response::builder()
                    .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
                    .finish(),
            })
        }
    })
}

/// The whole HTTP application over `state`.
pub fn build_app(state: AppState) -> impl Endpoint + use<> {
    // Counting starts with the first request, whether or not `/metrics` is served here.
    crate::http::metrics::handle();
    let api = crate::openapi::service(&state);
    let spec = crate::openapi::published(&api);
    let names = std::sync::Arc::new(crate::http::path_names::PathNames::new(
        crate::openapi::path_templates(&spec.json)
            .iter()
            .map(String::as_str),
    ));
    let docs = poem::endpoint::make_sync(move |_| poem::web::Html(spec.docs_html.clone()));
    let (json, yaml) = (spec.json, spec.yaml);
    let spec_json = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(json.clone())
    });
    let spec_yaml = poem::endpoint::make_sync(move |_| {
        poem::Response::builder()
            .content_type("application/x-yaml")
            .body(yaml.clone())
    });
    let body_limit = state.settings.body_limit_bytes;
    let body_read = crate::http::context::BodyRead {
        limit: body_limit,
        timeout: std::time::Duration::from_secs(state.settings.body_timeout_secs.max(1)),
    };
    // Checked at start (`prepare`), so a bad list never gets this far.
    let trusted = crate::http::client::TrustedProxies::parse(&state.settings.trusted_proxies)
        .unwrap_or_default();
    // The API answers under /api and /health; every other path is the web pages'.
    let api = std::sync::Arc::new(poem::IntoEndpoint::into_endpoint(api));
    let mut route = Route::new();
    if state.settings.metrics_token.is_some() {
        route = route.at("/metrics", metrics_endpoint(state.clone()));
    }
    route
        .nest_no_strip("/api", api.clone())
        .nest_no_strip("/health", api)
        .nest("/", crate::web::routes())
        .nest("/docs", docs)
        .at("/openapi.json", spec_json)
        .at("/openapi.yaml", spec_yaml)
        .with(CatchPanic::new())
        .data(BodyLimit(body_limit))
        .data(state)
        .around(move |next, req| {
            let (trusted, names) = (trusted.clone(), names.clone());
            async move {
                crate::http::context::around(next, req, &trusted, body_read, &names).await
            }
        })
}

/// The identity-number hashing key kept in the database, generated on first start.
/// Configuring `id_hash_key` keeps it out of the database, which is better: a copy of
/// the database alone then cannot be used to test guesses against the hashes.
async fn stored_id_hash_key(db: &DatabaseConnection) -> anyhow::Result<String> {
    use crate::db as repo;
    const NAME: &str = "id_hash_key";
    if let Some(key) = repo::secret(db, NAME).await? {
        return Ok(key);
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    repo::insert_secret(db, NAME, &hex::encode(bytes)).await?;
    tracing::warn!(
        "generated an identity-number hashing key and stored it in the database; set ANJU_ID_HASH_KEY to keep it elsewhere"
    );
    repo::secret(db, NAME)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the stored hashing key vanished"))
}
