//! TEMPORARY stub until the adapters branch lands.
use std::path::{Path, PathBuf};
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pi,
    Claude,
    Codex,
    Shell,
}
impl Kind {
    pub fn detect(argv: &[String]) -> Kind {
        if argv.iter().any(|a| a.contains("pi")) {
            Kind::Pi
        } else {
            Kind::Shell
        }
    }
    pub fn as_str(self) -> &'static str {
        "pi"
    }
    pub fn uses_preload(self) -> bool {
        self == Kind::Pi
    }
    pub fn session_roots(
        self,
        _argv: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Vec<PathBuf> {
        vec![PathBuf::from(env("PI_CODING_AGENT_DIR").unwrap_or_default()).join("sessions")]
    }
    pub fn accepts(self, path: &Path, roots: &[PathBuf], _first_line: Option<&[u8]>) -> bool {
        roots.iter().any(|r| path.starts_with(r))
    }
}
