//! `cutover completions SHELL` and `cutover man`: generated from the command line's own
//! definition, so they name every command; a completion script a shell accepts, and pages that
//! carry each command's example.

use std::process::Command;

use crate::support::TestEnv;

#[test]
fn completions_name_every_command_and_bash_accepts_its_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = TestEnv::new().run(["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.transcript());
        for command in [
            "apply",
            "plan",
            "status",
            "approve",
            "notify",
            "completions",
            "man",
        ] {
            assert!(
                run.stdout.contains(command),
                "{shell} completes no `{command}`"
            );
        }
    }
    let env = TestEnv::new();
    let script = env.run(["completions", "bash"]).stdout;
    std::fs::write(env.path().join("cutover.bash"), &script).expect("written");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(env.path().join("cutover.bash"))
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let unknown = env.run(["completions", "tcsh"]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
}

#[test]
fn man_pages_for_cutover_and_each_command() {
    let env = TestEnv::new();
    let page = env.run(["man"]);
    assert_eq!(page.code, 0, "{}", page.transcript());
    assert!(
        page.stdout.starts_with(".ie"),
        "roff: {}",
        &page.stdout[..40.min(page.stdout.len())]
    );
    assert!(page.stdout.contains(".TH cutover 1"), "{}", page.stdout);
    for command in ["apply", "status", "notify", "completions"] {
        assert!(
            page.stdout.contains(&format!("cutover\\-{command}(1)")),
            "no {command}"
        );
    }

    let run = env.run(["man", "--out-dir", "man1"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let listed: Vec<&str> = run.stdout.lines().collect();
    for name in [
        "cutover.1",
        "cutover-apply.1",
        "cutover-notify-test.1",
        "cutover-sandbox-init.1",
    ] {
        assert!(listed.contains(&name), "{name} not written: {listed:?}");
        assert!(env.path().join("man1").join(name).is_file());
    }
    let apply = std::fs::read_to_string(env.path().join("man1/cutover-apply.1")).expect("page");
    assert!(
        apply.contains("Example:") && apply.contains("\\-\\-until\\-blocked"),
        "{apply}"
    );
}
