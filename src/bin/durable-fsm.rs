//! The `durable-fsm` command-line tool.

fn main() {
    eprintln!("durable-fsm: the command-line tool is being assembled");
    std::process::exit(2);
}
