//! An account's proxy as the shell handles it: shown without its password, and handed to kage-core.

use tauri::Url;

/// A proxy address as a page may show it: any password replaced by `***`.
pub fn masked(proxy: &str) -> String {
    match Url::parse(proxy) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string().trim_end_matches('/').to_owned()
        }
        Ok(_) => proxy.to_owned(),
        // Never echo something unparsable whole: it might be a password typed in the wrong place.
        Err(_) => "(not a valid address)".to_owned(),
    }
}

/// What the page sent back for an account's proxy, resolved against what is saved: the masked form of the
/// saved proxy means "unchanged" (the page never had the password to send back).
pub fn resolve(sent: Option<String>, saved: Option<&str>) -> Option<String> {
    match (sent, saved) {
        (Some(sent), Some(saved)) if sent == masked(saved) => Some(saved.to_owned()),
        (sent, _) => sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proxy_password_never_reaches_the_page_and_an_untouched_mask_keeps_it() {
        let saved = "socks5://player:hunter2@10.0.0.5:1080";
        assert_eq!(masked(saved), "socks5://player:***@10.0.0.5:1080");
        assert_eq!(masked("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(masked("hunter2"), "(not a valid address)");
        assert_eq!(resolve(Some(masked(saved)), Some(saved)).as_deref(), Some(saved));
        assert_eq!(resolve(Some("http://10.0.0.9:3128".into()), Some(saved)).as_deref(), Some("http://10.0.0.9:3128"));
        assert_eq!(resolve(None, Some(saved)), None);
    }
}
