//! `jialing-node`: the Jialing node binary. Argument parsing and logging only; the work
//! is in the library.

fn main() -> std::process::ExitCode {
    jialing_node::cli::main()
}
