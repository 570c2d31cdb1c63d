//! `completions`: the shell completion script of every command and option, generated from the
//! clap definitions so it never falls behind them.

use super::args::{Cli, Shell};
use super::{CliError, emit};
use clap::CommandFactory;
use clap_complete::Shell as Generator;

/// The name the scripts complete: the installed binary's.
const BIN: &str = "durable-fsm";

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Result<String, CliError> {
    let generator = match shell {
        Shell::Bash => Generator::Bash,
        Shell::Zsh => Generator::Zsh,
        Shell::Fish => Generator::Fish,
        Shell::Powershell => Generator::PowerShell,
        Shell::Elvish => Generator::Elvish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), BIN, &mut buf);
    let text = String::from_utf8(buf)
        .map_err(|e| CliError::Failed(format!("the completion script is not UTF-8: {e}")))?;
    Ok(match shell {
        Shell::Bash => fix_bash_labels(&text),
        _ => text,
    })
}

/// clap_complete's bash script spells the state of a subcommand of a hyphenated binary two
/// ways (clap-rs/clap#6421): the word loop sets `durable__fsm__subcmd__get`, the case arms
/// test `durable__subcmd__fsm__subcmd__get`, so no option of a subcommand would complete.
/// The arms are respelt the loop's way (a no-op once clap_complete spells them alike).
fn fix_bash_labels(script: &str) -> String {
    let fn_name = BIN.replace('-', "__");
    let wrong = BIN.replace('-', "__subcmd__");
    script.replace(&wrong, &fn_name)
}

/// `completions SHELL`: prints the script.
pub fn completions(shell: Shell) -> Result<(), CliError> {
    emit(&script(shell)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_completes_every_command() {
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::Powershell,
            Shell::Elvish,
        ] {
            let text = script(shell).unwrap_or_default();
            for word in [
                "serve",
                "start",
                "get",
                "history",
                "graph",
                "list",
                "callback",
                "stop",
                "completions",
                "watch",
                "color",
            ] {
                assert!(text.contains(word), "{shell:?}: {word} missing");
            }
        }
    }
}
