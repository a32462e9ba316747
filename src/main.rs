//! The `insite` command line: parsing only; the work is in the library.

use clap::{Parser, Subcommand};
use insite::commands::{self, CommandError, MigrateAction};
use std::path::PathBuf;
use std::process::ExitCode;

/// insite: on-premises conversation intelligence.
#[derive(Parser)]
#[command(name = "insite", version, about)]
struct Cli {
    /// Configuration file.
    #[arg(long, global = true, env = "INSITE_CONFIG", default_value = insite::config::DEFAULT_CONFIG_PATH)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTPS server (migrates the database first).
    Serve,
    /// Manage the database schema.
    Migrate {
        #[command(subcommand)]
        action: MigrateCommand,
    },
    /// Validate the configuration and print it, secrets redacted.
    CheckConfig,
    /// Transcribe an audio file with the local Whisper model.
    Transcribe {
        file: PathBuf,
        /// Model name from the manifest, or a model file path (default: engines.whisper_model).
        #[arg(long)]
        model: Option<String>,
        /// Language code, e.g. "en" or "de"; default: detect.
        #[arg(long)]
        language: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: commands::inference::TranscriptFormat,
    },
    /// Summary and sentiment of a transcript or ticket text file, as JSON.
    Analyze {
        file: PathBuf,
        /// Model name from the manifest, or a model file path (default: engines.llm_model).
        #[arg(long)]
        model: Option<String>,
    },
    /// Scores a text conversation (one `speaker: text` turn per line) with a
    /// scorecard, plus summary and sentiment, and prints the JSON result.
    Score {
        file: PathBuf,
        /// A built-in scorecard (meddic, bant, spin, service_qa) or a template JSON file.
        #[arg(long, default_value = "service_qa")]
        scorecard: String,
        /// Ask every question as a prompt of its own (the benchmark's baseline).
        #[arg(long)]
        no_reuse: bool,
    },
    /// Runs the analysis over a labelled evaluation set (bench/eval) and prints its
    /// accuracy beside the constant baseline, kappa, evidence support, score
    /// separation, sentiment, summary checks and cost per conversation.
    Eval {
        /// A directory of items (*.json) or one item file.
        set: PathBuf,
        /// Model name from the manifest, or a model file path (default: engines.llm_model).
        #[arg(long)]
        model: Option<String>,
        /// Prompt version (default: the one the server uses).
        #[arg(long)]
        prompt_version: Option<String>,
        /// A second model or prompt version, shown side by side.
        #[arg(long)]
        compare: Option<String>,
        /// Only this scorecard (repeatable; default: every built-in one).
        #[arg(long)]
        scorecard: Vec<String>,
        /// Only these items (comma-separated ids).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Also write every answer and the numbers to this JSON file.
        #[arg(long)]
        json: Option<PathBuf>,
    },
    /// Internal: a sandboxed inference worker (started by the server).
    #[command(hide = true)]
    Worker {
        #[arg(long)]
        whisper: Option<PathBuf>,
        #[arg(long)]
        llm: Option<PathBuf>,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        #[arg(long, default_value_t = 8192)]
        llm_context: u32,
        /// The process that started this worker (the server passes its own): when it
        /// is gone, the worker ends. Default: the parent at start.
        #[arg(long, value_name = "PID")]
        parent: Option<u32>,
        /// Install the sandbox, try to connect to ADDR, and report that it was blocked.
        #[arg(long, value_name = "ADDR")]
        sandbox_self_test: Option<String>,
    },
    /// Internal: decodes one recording in a sandboxed process (started by the server).
    #[command(hide = true)]
    Decoder(insite::pipeline::decoder::child::DecoderArgs),
    /// Operator tasks: first owner, API tokens.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Approved models: list, verify, import.
    /// Encryption keys: status, rotation, crypto-shredding.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Retention: run the purge of expired data now.
    Retention {
        #[command(subcommand)]
        action: RetentionCommand,
    },
    /// Organizations: offboarding.
    Org {
        #[command(subcommand)]
        action: OrgCommand,
    },
    /// Write a consistent online backup (database + blob store + manifest) to OUT.
    /// The master key is not included.
    Backup {
        /// The archive to write (must not exist).
        out: PathBuf,
    },
    /// Restore a backup into an empty installation (stop the service first).
    Restore {
        /// The archive written by `insite backup`.
        archive: PathBuf,
    },
    Models {
        /// Directory holding the model files. Default: `engines.models_dir` of the
        /// config file, or `models` when there is no config file.
        #[arg(long, global = true)]
        models_dir: Option<PathBuf>,
        #[command(subcommand)]
        action: ModelsCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the first organization and its owner: prints a one-time setup link, or
    /// with --password-stdin sets the owner's password from standard input.
    Bootstrap {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        /// Read the owner's password from standard input (for scripted installs).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Reset a locked-out account from the server's shell (new password from stdin).
    Recover {
        email: String,
        /// Read the new password from standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// API tokens.
    Token {
        #[command(subcommand)]
        action: TokenCommand,
    },
    /// Organizations beyond the first (tenants).
    Org {
        #[command(subcommand)]
        action: AdminOrgCommand,
    },
}

#[derive(Subcommand)]
enum AdminOrgCommand {
    /// Create an organization; prints its owner's one-time invitation link (a person
    /// who already has an insite account accepts it with their own sign-in).
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        owner_email: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new API token (shown once).
    Create {
        #[arg(long)]
        org: String,
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "automation")]
        name: String,
        #[arg(long, default_value_t = 90)]
        expires_in_days: i64,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// The master key in force, each org's data key versions, rotations.
    Status,
    /// Re-wrap every org key under a new master key (resumable).
    RotateMaster,
    /// New data key for one org; re-encrypt its data with progress (resumable).
    RotateOrg {
        /// Organization name or id.
        org: String,
    },
    /// Destroy every key of one org: its data becomes unreadable everywhere.
    ShredOrg {
        /// Organization name or id.
        org: String,
        /// The same name again, to confirm.
        #[arg(long, default_value = "")]
        confirm: String,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Delete every org's data past its retention period now (legal holds respected).
    Purge,
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Export all of an org's data to FILE, then crypto-shred its keys and delete it.
    Offboard {
        /// Organization name or id.
        org: String,
        /// The archive to write (must not exist).
        #[arg(long)]
        export: PathBuf,
        /// The same name again, to confirm.
        #[arg(long, default_value = "")]
        confirm: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every hash chain; names the first broken entry.
    Verify,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// List approved models and whether each file is present and verified.
    List,
    /// Verify model files (all fetched ones by default) against the manifest.
    Verify { files: Vec<String> },
    /// Convert a CTranslate2 (faster-whisper) Whisper model directory to ggml.
    ImportCt2 { dir: PathBuf, out: PathBuf },
}

#[derive(Subcommand, Clone, Copy)]
enum MigrateCommand {
    /// Apply every pending migration.
    Run,
    /// Revert the most recent migration.
    Revert,
    /// List migrations and whether each is applied.
    Status,
}

/// The models directory for `insite models`: the flag, else the config's
/// `engines.models_dir` (an unreadable config is an error), else `models` when there is
/// no config file at all (a development checkout).
fn models_dir_of(flag: Option<PathBuf>, config: &std::path::Path) -> Result<PathBuf, CommandError> {
    match flag {
        Some(dir) => Ok(dir),
        None if config.exists() => Ok(commands::load_config(config)?.engines.models_dir),
        None => Ok(PathBuf::from("models")),
    }
}

fn main() -> ExitCode {
    insite::server::private_files();
    let cli = Cli::parse();
    // Commands that write into the data directory run as its owner (sudo on a package
    // install: the service user), so they never leave root-owned files behind.
    if matches!(
        cli.command,
        Command::Serve
            | Command::Migrate { .. }
            | Command::Admin { .. }
            | Command::Keys { .. }
            | Command::Restore { .. }
    ) {
        commands::as_owner::become_data_owner(&cli.config);
    }
    let result: Result<Option<String>, CommandError> = match cli.command {
        Command::Serve => actix_web::rt::System::new()
            .block_on(commands::serve(&cli.config))
            .map(|()| None),
        Command::Migrate { action } => {
            let action = match action {
                MigrateCommand::Run => MigrateAction::Run,
                MigrateCommand::Revert => MigrateAction::Revert,
                MigrateCommand::Status => MigrateAction::Status,
            };
            commands::migrate(&cli.config, action).map(Some)
        }
        Command::CheckConfig => commands::check_config(&cli.config).map(Some),
        Command::Transcribe {
            file,
            model,
            language,
            format,
        } => commands::inference::transcribe(
            &cli.config,
            &file,
            model.as_deref(),
            language.as_deref(),
            format,
        )
        .map(Some),
        Command::Analyze { file, model } => {
            commands::inference::analyze(&cli.config, &file, model.as_deref()).map(Some)
        }
        Command::Score {
            file,
            scorecard,
            no_reuse,
        } => commands::score::score(&cli.config, &file, &scorecard, !no_reuse).map(Some),
        Command::Eval {
            set,
            model,
            prompt_version,
            compare,
            scorecard,
            only,
            json,
        } => commands::eval::eval(
            &cli.config,
            &commands::eval::EvalArgs {
                set,
                model,
                prompt_version,
                compare,
                scorecards: scorecard,
                only,
                json,
            },
        )
        .map(Some),
        Command::Worker {
            whisper,
            llm,
            threads,
            llm_context,
            parent,
            sandbox_self_test,
        } => match sandbox_self_test {
            Some(addr) => insite::engines::worker::child::sandbox_self_test(&addr)
                .map(Some)
                .map_err(CommandError),
            None => {
                insite::engines::worker::child::run(&insite::engines::worker::child::WorkerArgs {
                    whisper,
                    llm,
                    threads,
                    llm_context,
                    parent,
                })
                .map(|()| None)
                .map_err(CommandError)
            }
        },
        Command::Decoder(args) => insite::pipeline::decoder::child::run(&args)
            .map(|()| None)
            .map_err(CommandError),
        Command::Admin { action } => match action {
            AdminCommand::Bootstrap {
                org,
                email,
                password_stdin,
            } => commands::admin::bootstrap(&cli.config, &org, &email, password_stdin),
            AdminCommand::Recover { email, .. } => commands::admin::recover(&cli.config, &email),
            AdminCommand::Token {
                action:
                    TokenCommand::Create {
                        org,
                        role,
                        name,
                        expires_in_days,
                    },
            } => commands::admin::token_create(&cli.config, &org, &role, &name, expires_in_days),
            AdminCommand::Org {
                action: AdminOrgCommand::Create { org, owner_email },
            } => commands::admin::org_create(&cli.config, &org, &owner_email),
        }
        .map(Some),
        Command::Audit {
            action: AuditCommand::Verify,
        } => commands::admin::audit_verify(&cli.config).map(Some),
        Command::Keys { action } => match action {
            KeysCommand::Status => commands::keys::status(&cli.config),
            KeysCommand::RotateMaster => commands::keys::rotate_master(&cli.config),
            KeysCommand::RotateOrg { org } => commands::keys::rotate_org(&cli.config, &org),
            KeysCommand::ShredOrg { org, confirm } => {
                commands::keys::shred_org(&cli.config, &org, &confirm)
            }
        }
        .map(Some),
        Command::Retention {
            action: RetentionCommand::Purge,
        } => commands::privacy::purge(&cli.config).map(Some),
        Command::Org {
            action:
                OrgCommand::Offboard {
                    org,
                    export,
                    confirm,
                },
        } => commands::privacy::offboard(&cli.config, &org, &export, &confirm).map(Some),
        Command::Backup { out } => commands::backup::backup(&cli.config, &out).map(Some),
        Command::Restore { archive } => commands::backup::restore(&cli.config, &archive).map(Some),
        Command::Models { models_dir, action } => match action {
            ModelsCommand::List => {
                models_dir_of(models_dir, &cli.config).and_then(|dir| commands::models::list(&dir))
            }
            ModelsCommand::Verify { files } => models_dir_of(models_dir, &cli.config)
                .and_then(|dir| commands::models::verify(&dir, &files)),
            ModelsCommand::ImportCt2 { dir, out } => commands::models::import_ct2(&dir, &out),
        }
        .map(Some),
    };
    match result {
        Ok(Some(out)) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
