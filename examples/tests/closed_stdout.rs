//! The programs end quietly when their stdout is a closed pipe
//! (`explain 1007 | head -1`), where `println!` would panic.

use std::process::{Command, Stdio};

/// Runs `program args` with a stdout whose reader is already gone.
fn run_into_a_closed_pipe(program: &str, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(program)
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("the program runs")
}

#[test]
fn help_and_explanations_into_a_closed_pipe_exit_0_without_a_panic() {
    for (program, args) in [
        (env!("CARGO_BIN_EXE_explain"), &["1000", "1007"][..]),
        (env!("CARGO_BIN_EXE_explain"), &["--help"][..]),
        (env!("CARGO_BIN_EXE_echo_server"), &["--help"][..]),
        (env!("CARGO_BIN_EXE_autobahn_client"), &["--help"][..]),
    ] {
        let output = run_into_a_closed_pipe(program, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{program} {args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{program} {args:?}: {stderr}");
    }
}
