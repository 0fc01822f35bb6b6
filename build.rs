//! Bakes the install prefix's data directory into the binary, so an installed
//! `amux` can prefer the installed hook files (`$(DATADIR)/amux/hook.mjs`,
//! `pi-extension.mjs`) over its embedded copies when their contents match.
fn main() {
    println!("cargo:rerun-if-env-changed=AMUX_DATADIR");
    println!("cargo:rerun-if-changed=hook/hook.mjs");
    let datadir = std::env::var("AMUX_DATADIR").unwrap_or_else(|_| "/usr/local/share".into());
    println!("cargo:rustc-env=AMUX_DATADIR={datadir}");
}
