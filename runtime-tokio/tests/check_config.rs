//! `switchboard check-config` and `switchboard ext` end to end: the settings
//! file is validated and the effective settings (defaults filled in) printed;
//! a bad file is refused with the key, the value and the reason.

mod support;

use support::{DOMAIN, Env, run, run_with_stdin};

fn config_arg(env: &Env) -> String {
    env.config.display().to_string()
}

#[test]
fn check_config_prints_the_effective_settings() {
    let env = Env::new();
    let out = run(&["-c", &config_arg(&env), "check-config"]);
    assert!(out.status.success(), "{}\n{}", out.status, out.stderr);
    assert!(out.stdout.contains("settings: OK"), "{}", out.stdout);
    assert!(
        out.stdout.contains(&format!("sip domain: {DOMAIN}")),
        "{}",
        out.stdout
    );
    // The keys of the file…
    assert!(
        out.stdout.contains(&format!("sip_port = {}", env.port)),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("listen = [\"127.0.0.1\"]"),
        "{}",
        out.stdout
    );
    // …and the defaults of the keys it leaves out.
    for default in [
        "t1_ms = 500",
        "max_expires = 3600",
        "nonce_lifetime_s = 300",
    ] {
        assert!(
            out.stdout.contains(default),
            "{default} missing: {}",
            out.stdout
        );
    }
    // The database was checked (and created) too.
    assert!(out.stdout.contains("0 extensions"), "{}", out.stdout);
    assert!(env.db_path().is_file());
}

#[test]
fn check_config_refuses_a_bad_value() {
    let mut env = Env::new();
    env.extra = "[security]\n".into(); // a duplicate section: not TOML
    env.write_settings();
    let out = run(&["-c", &config_arg(&env), "check-config"]);
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(out.stderr.contains("security"), "{}", out.stderr);

    let mut env = Env::new();
    env.service_extra = "t2_ms = 100".into(); // below T1 (RFC 3261 §17.1.2.2)
    env.write_settings();
    let out = run(&["-c", &config_arg(&env), "check-config"]);
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(out.stderr.contains("t2_ms"), "{}", out.stderr);

    let mut env = Env::new();
    env.service_extra = "transport = \"sctp\"".into();
    env.write_settings();
    let out = run(&["-c", &config_arg(&env), "check-config"]);
    assert!(!out.status.success(), "{}", out.stdout);
    assert!(
        out.stderr.contains("service.transport") && out.stderr.contains("sctp"),
        "{}",
        out.stderr
    );
}

#[test]
fn check_config_refuses_a_missing_file() {
    let env = Env::new();
    let missing = env.dir().join("nope.toml");
    let out = run(&["-c", &missing.display().to_string(), "check-config"]);
    assert!(!out.status.success());
    assert!(out.stderr.contains("nope.toml"), "{}", out.stderr);
}

#[test]
fn ext_add_list_remove() {
    let env = Env::new();
    env.add_extension("101", "pw");
    let out = run_with_stdin(
        &[
            "-c",
            &config_arg(&env),
            "ext",
            "add",
            "bad;name",
            "--password-stdin",
        ],
        "pw\n",
    );
    assert!(!out.status.success(), "a ';' in a username is refused");
    let out = run(&["-c", &config_arg(&env), "ext", "list"]);
    assert!(out.status.success(), "{}", out.stderr);
    assert!(out.stdout.contains("101"), "{}", out.stdout);
    assert!(out.stdout.contains("1 extensions"), "{}", out.stdout);
    let out = run(&["-c", &config_arg(&env), "ext", "remove", "101"]);
    assert!(out.status.success(), "{}", out.stderr);
    let out = run(&["-c", &config_arg(&env), "ext", "remove", "101"]);
    assert!(!out.status.success(), "removing twice fails");
}
