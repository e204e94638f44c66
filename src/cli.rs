//! The command line: `serve` (the default), `migrate`, `openapi`, `user add`.

use std::io::BufRead;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::auth::{Role, service::NewAccount};
use crate::clock::SystemClock;
use crate::settings::Settings;

#[derive(Parser, Debug)]
#[command(
    name = "anju",
    version,
    about = "安居: public-housing applications for a sub-district office"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP service (the default when no command is given).
    Serve {
        /// Load the 南关街道 demo data first (once; see `anju demo`).
        #[arg(long)]
        demo: bool,
    },
    /// Build the 南关街道 demo data set (367 → 240 → 179) in the configured database.
    Demo {
        /// Also generate this many more synthetic households (for benchmarks; once).
        #[arg(long)]
        households: Option<u64>,
    },
    /// Print a report.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write openapi/openapi.yaml and openapi/openapi.json from the code.
    Openapi {
        /// Directory to write into.
        #[arg(long, default_value = "openapi")]
        dir: std::path::PathBuf,
        /// Exit non-zero if the files differ from the code instead of writing them.
        #[arg(long)]
        check: bool,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Check the settings.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Copy the SQLite database to PATH while the service runs, and check the copy
    /// (on PostgreSQL: print the pg_dump command to use).
    Backup {
        /// The new file to write (never overwritten).
        path: std::path::PathBuf,
    },
    /// The verifiable lottery (摇号).
    Lottery {
        #[command(subcommand)]
        command: LotteryCommand,
    },
    /// Check a copy made by `anju backup` and put it in place of the SQLite database;
    /// every `anju serve` on it must be stopped (on PostgreSQL: print the pg_restore
    /// command to use).
    Restore {
        /// The copy to restore.
        path: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum LotteryCommand {
    /// Recompute a draw from its result file alone (as published at
    /// /api/v1/public/rounds/{id}/lottery) and say whether it matches; exit 1 if not.
    /// Needs no database and no settings.
    Verify {
        /// The result file (JSON).
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the effective settings (secrets as ***) and check them and the database;
    /// exit 1 on any problem.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum ReportCommand {
    /// The funnel for the whole database (admin scope).
    Funnel {
        /// table (default), csv, xlsx or svg; files go to standard output.
        #[arg(long, default_value = "table")]
        format: String,
        /// Only this programme: public_rental or low_rent.
        #[arg(long)]
        programme: Option<String>,
    },
    /// Check the report counters against a recount from the event log (exit 1 if they
    /// differ), or rebuild them from it.
    Counters {
        /// Replace the counters with the recount.
        #[arg(long)]
        rebuild: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account. The password is read from ANJU_USER_PASSWORD, or else from
    /// the first line of standard input.
    Add {
        /// applicant, reviewer, supervisor, bureau or admin.
        #[arg(long)]
        role: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Mobile number (a login name).
        #[arg(long)]
        mobile: Option<String>,
        /// E-mail address (a login name).
        #[arg(long)]
        email: Option<String>,
        /// Place code of the scope; repeat for several communities.
        #[arg(long = "place")]
        places: Vec<String>,
    },
}

/// Logs to standard output: text (coloured only on a terminal) or one JSON object a
/// line. Lines logged while a request is served carry its `request_id` (and `user_id`
/// once known) from the request's span.
pub fn init_tracing(filter: &str, format: &str) {
    use std::io::IsTerminal;
    // sqlx logs every statement at INFO; keep it quiet unless asked for.
    let filter = tracing_subscriber::EnvFilter::new(format!("{filter},sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init()
    };
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve { demo: false });
    if let Command::Config {
        command: ConfigCommand::Check,
    } = command
    {
        return config_check().await;
    }
    if let Command::Lottery {
        command: LotteryCommand::Verify { file },
    } = &command
    {
        return lottery_verify(file);
    }
    let settings = Settings::load().context("reading settings")?;
    init_tracing(&settings.log, &settings.log_format);
    match command {
        Command::Config { .. } | Command::Lottery { .. } => unreachable!("handled above"),
        Command::Backup { path } => {
            let summary = crate::db::backup::backup(&settings.database_url, &path).await?;
            print!("backed up\n{}", summary.describe());
            Ok(())
        }
        Command::Restore { path } => {
            let summary = crate::db::backup::restore(&settings.database_url, &path).await?;
            print!("restored\n{}", summary.describe());
            Ok(())
        }
        Command::Serve { demo } => {
            if demo {
                seed_demo(settings.clone(), None).await?;
            }
            serve(settings).await
        }
        Command::Demo { households } => seed_demo(settings, households).await,
        Command::Report {
            command: ReportCommand::Funnel { format, programme },
        } => report(settings, &format, programme.as_deref()).await,
        Command::Report {
            command: ReportCommand::Counters { rebuild },
        } => counters(settings, rebuild).await,
        Command::Migrate => {
            let db = crate::db::connect(&settings.database_url, settings.pool_size()).await?;
            crate::db::migrate(&db).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Openapi { dir, check } => openapi(&dir, check),
        Command::User {
            command:
                UserCommand::Add {
                    role,
                    name,
                    mobile,
                    email,
                    places,
                },
        } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role {role}"))?;
            let password = match std::env::var("ANJU_USER_PASSWORD") {
                Ok(p) => p,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let state = crate::startup::prepare(settings, Arc::new(SystemClock)).await?;
            let input = NewAccount {
                role,
                display_name: name,
                mobile,
                email,
                password,
                place_codes: places,
                id_number: None,
            };
            match crate::auth::service::create_account(&state, input).await {
                Ok(account) => {
                    println!("created {} account {}", role.as_str(), account.user.id);
                    Ok(())
                }
                Err(crate::auth::AuthError::Invalid(fields)) => {
                    for f in fields {
                        eprintln!("{}: {}", f.field, f.msg.en);
                    }
                    anyhow::bail!("the account was not created")
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}

/// `anju lottery verify FILE`: every check of `allocation::lottery::verify`, one a line.
fn lottery_verify(path: &std::path::Path) -> anyhow::Result<()> {
    use crate::allocation::lottery;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: lottery::ResultFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a lottery result file", path.display()))?;
    let checks = lottery::verify(&file);
    println!(
        "round {} ({}), {} entrants, drawn {}",
        file.round_id,
        file.round_name,
        file.order.len(),
        file.drawn_at
    );
    for c in &checks {
        println!(
            "{} {}: {}",
            if c.ok { "ok  " } else { "FAIL" },
            c.what,
            c.detail
        );
    }
    if lottery::verified(&checks) {
        println!("verified: the published order is the one these inputs give");
        Ok(())
    } else {
        anyhow::bail!("NOT verified: the result file does not match its own inputs")
    }
}

/// `anju config check`: the settings as the service would see them, then whether the
/// database answers and how far its schema is.
async fn config_check() -> anyhow::Result<()> {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            println!("problem: {e:#}");
            anyhow::bail!("the settings have a problem (above)");
        }
    };
    print!("{}", settings.effective());
    let url = &settings.database_url;
    if let Some(file) = crate::db::backup::sqlite_file(url)
        && !file.exists()
    {
        println!(
            "database: {} does not exist yet; `anju serve` creates it",
            file.display()
        );
        return Ok(());
    }
    let db = tokio::time::timeout(
        Duration::from_secs(10),
        sea_orm::Database::connect(url.as_str()),
    )
    .await
    .map_err(|_| anyhow::anyhow!("database: no answer in 10 s"))?
    .map_err(|e| anyhow::anyhow!("database: {e}"))?;
    use migration::MigratorTrait;
    let pending = migration::Migrator::get_pending_migrations(&db)
        .await?
        .len();
    db.close().await?;
    println!("database: reachable; {pending} migrations to apply at the next start");
    Ok(())
}

async fn seed_demo(settings: Settings, households: Option<u64>) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if crate::demo::seed(settings, households, std::io::stderr().is_terminal()).await? {
        println!(
            "demo data loaded: log in as admin@nanguan.demo (and the accounts in the README) with password {}",
            crate::demo::DEMO_PASSWORD
        );
    } else {
        println!("demo data already present; nothing changed");
    }
    Ok(())
}

async fn counters(settings: Settings, rebuild: bool) -> anyhow::Result<()> {
    use crate::lifecycle::counters;
    let db = crate::db::connect(&settings.database_url, settings.pool_size()).await?;
    crate::db::migrate(&db).await?;
    if rebuild {
        counters::rebuild(&db).await?;
        println!("rebuilt the report counters from the event log");
        return Ok(());
    }
    let differences = counters::differences(
        &counters::stored(&db).await?,
        &counters::recount(&db).await?,
    );
    if differences.is_empty() {
        println!("the report counters agree with the event log");
        return Ok(());
    }
    for d in differences.iter().take(20) {
        println!("{d}");
    }
    anyhow::bail!(
        "{} counter rows differ from the event log",
        differences.len()
    )
}

async fn report(settings: Settings, format: &str, programme: Option<&str>) -> anyhow::Result<()> {
    use std::io::Write;
    let state = crate::startup::prepare(settings, Arc::new(SystemClock)).await?;
    let admin = crate::auth::Principal {
        user_id: 0,
        session_id: 0,
        role: Role::Admin,
        place_ids: vec![],
        id_hash: None,
    };
    let filter = crate::reports::funnel::Filter {
        programme: programme
            .map(|p| {
                crate::applications::form::Programme::parse(p)
                    .with_context(|| format!("unknown programme {p}"))
            })
            .transpose()?,
        ..Default::default()
    };
    let f = crate::reports::funnel::funnel(&state, &admin, &filter)
        .await?
        .context("no report")?;
    let out = match format {
        "table" => crate::reports::render::table(&f).into_bytes(),
        "csv" => crate::reports::render::csv(&f),
        "xlsx" => crate::reports::render::xlsx(&f).map_err(|e| anyhow::anyhow!(e))?,
        "svg" => crate::reports::render::svg(&f).into_bytes(),
        other => anyhow::bail!("unknown format {other}: use table, csv, xlsx or svg"),
    };
    std::io::stdout().write_all(&out)?;
    Ok(())
}

fn openapi(dir: &std::path::Path, check: bool) -> anyhow::Result<()> {
    let (yaml, json) = crate::openapi::spec_texts();
    let files = [("openapi.yaml", yaml), ("openapi.json", json)];
    if check {
        for (name, text) in &files {
            let path = dir.join(name);
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if &committed != text {
                anyhow::bail!("{} is out of date: run `anju openapi`", path.display());
            }
        }
        println!("openapi/ matches the code");
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    for (name, text) in files {
        std::fs::write(dir.join(name), text)?;
    }
    println!("wrote {}", dir.display());
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    tracing::info!(settings = %settings.effective().trim_end().replace('\n', "; "), "starting anju");
    let listen = settings.listen.clone();
    let delivery = crate::notifications::worker::Delivery::from_settings(&settings)?;
    let state = crate::startup::prepare(settings, Arc::new(SystemClock)).await?;
    crate::startup::spawn_background(&state);
    let worker = crate::notifications::worker::spawn(state.clone(), delivery);
    let round_limit = Duration::from_secs(state.settings.smtp_timeout_secs + 5);
    let limits = crate::http::server::ConnectionLimits {
        header_timeout: Duration::from_secs(state.settings.header_timeout_secs.max(1)),
        max_connections: crate::http::server::connection_cap(
            state.settings.max_connections,
            state.settings.pool_size(),
        ),
    };
    if let Some(addr) = state.settings.metrics_listen.clone() {
        let ep = poem::Route::new().at("/metrics", crate::startup::metrics_endpoint(state.clone()));
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        tracing::info!("metrics on http://{addr}/metrics");
        tokio::spawn(crate::http::server::serve(
            listener,
            ep,
            limits,
            std::future::pending(),
            Duration::from_secs(1),
        ));
    }
    let settings_grace = state.settings.shutdown_grace_secs;
    let app = crate::startup::build_app(state);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    tracing::info!(
        max_connections = limits.max_connections,
        "listening on http://{listen} (docs at /docs)"
    );
    let grace = Duration::from_secs(settings_grace);
    let stopping = async move {
        shutdown_signal().await;
        crate::health::service::start_draining();
        if !grace.is_zero() {
            tracing::info!(
                seconds = grace.as_secs(),
                "stopping: readiness answers 503 while draining"
            );
            tokio::time::sleep(grace).await;
        }
    };
    crate::http::server::serve(listener, app, limits, stopping, Duration::from_secs(10)).await?;
    worker.stop(round_limit).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}
