//! A place to try amux by hand with the real agents (`make playground`):
//! the three loopback fake servers of `tests/support/` (pi's chat completions,
//! Claude's Messages API, Codex's Responses API), each agent's config
//! pointing at them, and `env.sh` to source in a terminal (tmux) so that
//! `amux run -- pi`, `… claude`, `… codex` talk to them, with a runtime,
//! state and home of the playground's own. Ignored by `cargo test`; it
//! serves until `$AMUX_PLAYGROUND/stop` exists (or an hour passes).
//!
//! What the fake models do: pi's answers every prompt with one reply;
//! Claude's and Codex's ask to run a command first (Claude for a prompt
//! naming `touch PATH`, Codex for every first prompt), so their
//! permission dialogs — amux's `waiting` — can be seen.

use crate::support;
use crate::support::anthropic::FakeAnthropic;
use crate::support::model::FakeModel;
use crate::support::responses::FakeResponses;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[test]
#[ignore = "by hand: make playground"]
fn playground() {
    let dir = std::env::var_os("AMUX_PLAYGROUND")
        .map(PathBuf::from)
        .expect("AMUX_PLAYGROUND=DIR names where the playground lives");
    let work = dir.join("work");
    for d in ["work", "pi", "claude", "codex", "home", "state", "run"] {
        std::fs::create_dir_all(dir.join(d)).expect("playground dirs");
    }
    // amux keeps its runtime and state private, and refuses them open.
    for d in ["run", "state"] {
        use std::os::unix::fs::PermissionsExt;
        let private = std::fs::Permissions::from_mode(0o700);
        std::fs::set_permissions(dir.join(d), private).expect("chmod 0700");
    }
    let pi = FakeModel::start("Quokkas are small marsupials from Western Australia.");
    let claude = FakeAnthropic::start("Done: the file exists.", Duration::from_secs(2));
    let codex = FakeResponses::start("touch approved.txt", "Done: the file exists.");
    std::fs::write(dir.join("pi/models.json"), pi.pi_models_json()).expect("models.json");
    // Plain `pi` uses the fake model.
    let settings = r#"{"defaultProvider": "fake", "defaultModel": "fake-model"}"#;
    std::fs::write(dir.join("pi/settings.json"), settings).expect("settings.json");
    crate::real_claude::seed(&dir.join("claude"), &work);
    let toml = codex.config_toml(&work, "");
    std::fs::write(dir.join("codex/config.toml"), toml).expect("config.toml");
    let script = env_sh(&dir, &claude.base_url());
    std::fs::write(dir.join("env.sh"), script).expect("env.sh");
    println!("playground ready: . {}/env.sh", dir.display());
    let stop = dir.join("stop");
    let until = Instant::now() + Duration::from_secs(3600);
    while !stop.exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = std::fs::remove_file(stop);
}

/// The environment of a terminal in the playground: this checkout's amux
/// and the pinned agents first on `PATH`, everything else under `dir`.
fn env_sh(dir: &Path, claude_url: &str) -> String {
    let agents = support::pi().parent().expect("agents' bin").to_path_buf();
    let amux = Path::new(support::amux_bin()).parent().expect("amux's dir");
    let d = dir.display();
    format!(
        "# . this file: amux and the agents against the playground's fake servers\n\
         export PATH='{}:{}':\"$PATH\"\n\
         export AMUX_RUNTIME_DIR='{d}/run' XDG_STATE_HOME='{d}/state' HOME='{d}/home'\n\
         export PI_CODING_AGENT_DIR='{d}/pi' PI_OFFLINE=1 PI_TELEMETRY=0\n\
         export CLAUDE_CONFIG_DIR='{d}/claude' ANTHROPIC_BASE_URL='{claude_url}'\n\
         export ANTHROPIC_API_KEY='{}'\n\
         export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 DISABLE_AUTOUPDATER=1\n\
         export DISABLE_TELEMETRY=1 DISABLE_ERROR_REPORTING=1\n\
         export CODEX_HOME='{d}/codex'\n\
         cd '{d}/work'\n",
        amux.display(),
        agents.display(),
        crate::real_claude::API_KEY,
    )
}
