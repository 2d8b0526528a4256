//! The portal's static files (`functions/config-api/portal/`), embedded in
//! the binary at build time: the page needs no CDN and works offline.

/// One file of the portal, served at `/portal/{path}` (`index.html` at `/portal`).
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $content_type:literal) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/portal/", $path)),
        }
    };
}

pub static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("api.js", "text/javascript; charset=utf-8"),
    asset!("dom.js", "text/javascript; charset=utf-8"),
    asset!("states.js", "text/javascript; charset=utf-8"),
    asset!("integrations.js", "text/javascript; charset=utf-8"),
    asset!("deliveries.js", "text/javascript; charset=utf-8"),
    asset!("catalogue.js", "text/javascript; charset=utf-8"),
    asset!("sources.js", "text/javascript; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
];

/// The asset at `path` (`""` is `index.html`).
pub fn find(path: &str) -> Option<&'static Asset> {
    let path = if path.is_empty() { "index.html" } else { path };
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_file_of_the_portal_directory_is_listed() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/portal");
        let on_disk: BTreeSet<String> = std::fs::read_dir(dir)
            .expect("portal directory")
            .map(|e| e.expect("entry"))
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let listed: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_string()).collect();
        assert_eq!(listed.len(), ASSETS.len(), "an asset is listed twice");
        assert_eq!(on_disk, listed, "portal/ and ASSETS differ");
        for a in ASSETS {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
        }
        assert!(find("").is_some_and(|a| a.path == "index.html"));
        assert!(find("../Cargo.toml").is_none());
    }

    /// What a strict CSP (no 'unsafe-inline') would block: an inline script
    /// body, a `style` attribute or element, an `on...=` handler attribute,
    /// `javascript:` URLs. Checked in every asset, not only the HTML.
    #[test]
    fn no_asset_needs_inline_script_or_style() {
        for a in ASSETS {
            let text = std::str::from_utf8(a.body).expect("assets are UTF-8");
            let lower = text.to_ascii_lowercase();
            let mut rest = lower.as_str();
            while let Some(at) = rest.find("<script") {
                let tag_end = rest[at..].find('>').expect("script tag closes") + at;
                let tag = &rest[at..tag_end];
                assert!(
                    tag.contains(" src="),
                    "{}: inline <script> without src",
                    a.path
                );
                let after = &rest[tag_end + 1..];
                let body_end = after.find("</script>").unwrap_or(0);
                assert!(
                    after[..body_end].trim().is_empty(),
                    "{}: a <script> with a body",
                    a.path
                );
                rest = &after[body_end..];
            }
            assert!(!lower.contains("<style"), "{}: a <style> element", a.path);
            assert!(
                !lower.contains("javascript:"),
                "{}: a javascript: URL",
                a.path
            );
            assert!(!lower.contains("innerhtml"), "{}: innerHTML", a.path);
            assert!(!lower.contains("eval("), "{}: eval", a.path);
            for (i, _) in lower.match_indices("style=") {
                let before = lower[..i].chars().last().unwrap_or(' ');
                assert!(
                    !(before.is_whitespace() || before == '"' || before == '\''),
                    "{}: a style= attribute",
                    a.path
                );
            }
            if a.path.ends_with(".html") || a.path.ends_with(".svg") {
                let bytes = lower.as_bytes();
                for (i, _) in lower.match_indices(" on") {
                    let name: String = lower[i + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric())
                        .collect();
                    let next = bytes.get(i + 1 + name.len()).copied();
                    assert!(
                        !(name.len() > 2 && next == Some(b'=')),
                        "{}: an {name}= handler attribute",
                        a.path
                    );
                }
            }
        }
    }
}
