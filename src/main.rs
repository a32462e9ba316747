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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
