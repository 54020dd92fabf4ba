//! The app's log (tauri-plugin-log: a file in the app's log directory, and the terminal), written through the
//! `log` crate. kage-core and the sandbox's kage-server write with `tracing`; their events reach this log
//! through tracing's `log` feature, which this crate's Cargo.toml turns on because this is where they are read.
//! (Before, core's warnings arrived only because some server dependency happened to turn the feature on.)

use tauri::Runtime;
use tauri::plugin::TauriPlugin;

pub fn plugin<R: Runtime>() -> TauriPlugin<R> {
    tauri_plugin_log::Builder::new()
        .level(log::LevelFilter::Info)
        // Dependencies' chatter can carry request details or D-Bus message bytes (the keychain's secrets travel
        // over D-Bus): only their warnings are kept.
        .level_for("zbus", log::LevelFilter::Warn)
        .level_for("tracing", log::LevelFilter::Warn)
        .level_for("hyper", log::LevelFilter::Warn)
        .level_for("reqwest", log::LevelFilter::Warn)
        .level_for("sqlx", log::LevelFilter::Warn)
        .build()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    /// A `log` logger that keeps what it is given, as tauri-plugin-log would write it.
    struct Kept(Mutex<Vec<String>>);

    impl log::Log for Kept {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            self.0.lock().unwrap().push(format!("{} {} {}", record.level(), record.target(), record.args()));
        }
        fn flush(&self) {}
    }

    static KEPT: Kept = Kept(Mutex::new(Vec::new()));

    /// A warning written with `tracing`, as kage-core writes them (no tracing subscriber: the app has none),
    /// arrives in the app's `log` logger. Without tracing's `log` feature in this build, it is lost.
    #[test]
    fn the_cores_tracing_warnings_reach_the_apps_log() {
        log::set_logger(&KEPT).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Info);
        tracing::warn!(target: "kage_core::client", account = "a1", "answer for another account dropped");
        let kept = KEPT.0.lock().unwrap().clone();
        assert!(
            kept.iter().any(|line| line.starts_with("WARN kage_core::client answer for another account dropped")),
            "{kept:?}"
        );
    }
}
