//! `byzantine-node MODE run --config CONFIG`: a `jialing-node` whose proposals go
//! through a Byzantine test hook (`invalid-block` or `equivocate`, see
//! `jialing_tests::byzantine`). For tests only.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some("run"), Some("--config"), Some(config)) =
        (args.first(), args.get(1).map(String::as_str), args.get(2).map(String::as_str), args.get(3))
    else {
        eprintln!("usage: byzantine-node invalid-block|equivocate run --config CONFIG");
        return ExitCode::FAILURE;
    };
    let Some(hook) = jialing_tests::byzantine::hook(mode) else {
        eprintln!("error: unknown mode {mode:?} (invalid-block or equivocate)");
        return ExitCode::FAILURE;
    };
    match jialing_node::cli::run_config(&PathBuf::from(config), Some(hook)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
