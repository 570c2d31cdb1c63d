//! The `durable-fsm` command-line tool; everything it does lives in [`durable_fsm::cli`].

fn main() -> std::process::ExitCode {
    durable_fsm::cli::main()
}
