//! The markup every page shares: the layout with its navigation, the
//! style sheet (served as a file, so no inline style is needed), and small
//! pieces (stage badges, sizes, forms with their CSRF token). maud escapes
//! every interpolated value; `PreEscaped` is used only, in `pages/`, for
//! SVG that `modelgate-chart` built and escaped.

use maud::{DOCTYPE, Markup, html};
use modelgate_inventory::{Role, Stage};

/// Who is looking at a page.
#[derive(Debug, Clone)]
pub(crate) struct Viewer {
    pub(crate) name: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
}

/// Which entry of the navigation is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Catalogue,
    Queue,
    Audit,
    Usage,
    Keys,
    None,
}

/// The style sheet, served at `/ui/style.css` (no inline styles, so the
/// Content-Security-Policy can refuse them).
pub(crate) const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2327;background:#f6f7f9}
header{background:#1f3a5f;color:#fff;padding:.6rem 1rem;display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}
header a{color:#dfe9f5;text-decoration:none}
header a.current{color:#fff;font-weight:600;border-bottom:2px solid #fff}
header nav.links{display:flex;flex-wrap:wrap;gap:.4rem 1rem}
header .brand{font-weight:700;color:#fff;margin-right:.6rem}
header .who{margin-left:auto;display:flex;gap:.6rem;align-items:center;font-size:.9rem}
header form{margin:0}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{font-size:1.4rem;margin:.4rem 0 .8rem}
h2{font-size:1.1rem;margin:1.4rem 0 .5rem;border-bottom:1px solid #d7dce1;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;background:#fff;font-size:.9rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e3e6ea;vertical-align:top;overflow-wrap:break-word}
th{background:#eef1f4;font-weight:600}
.scroll{overflow-x:auto}
.badge{display:inline-block;padding:0 .45rem;border-radius:.6rem;font-size:.8rem;font-weight:600;background:#e3e6ea;white-space:nowrap}
.stage-production{background:#cdeccf;color:#12501a}.stage-approved{background:#d6e7fb;color:#163f73}
.stage-candidate{background:#fff1c2;color:#5c4400}.stage-deprecated{background:#eee;color:#555}
.stage-revoked{background:#f8d2d2;color:#7a1010}
.sev-critical,.sev-high,.act-reject,.bad{color:#9b1111;font-weight:600}.sev-medium,.act-review{color:#8a5a00;font-weight:600}
.ok{color:#12501a;font-weight:600}
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;background:#fff;padding:.6rem;border:1px solid #e3e6ea;margin-bottom:.8rem}
.filters label{display:flex;flex-direction:column;font-size:.8rem;gap:.1rem}
input,select,textarea,button{font:inherit}
input[type=text],input[type=password],input[type=search],select,textarea{padding:.3rem;border:1px solid #b8c0c8;border-radius:3px;max-width:100%}
textarea{width:100%;min-height:3.5rem}
button{padding:.35rem .8rem;border:1px solid #1f3a5f;background:#1f3a5f;color:#fff;border-radius:3px;cursor:pointer}
button.danger{background:#9b1111;border-color:#9b1111}button.plain{background:#fff;color:#1f3a5f}
.actions{display:flex;flex-wrap:wrap;gap:1rem}
.actions form{background:#fff;border:1px solid #e3e6ea;padding:.6rem;flex:1 1 16rem}
.notice{background:#fff8d8;border:1px solid #e8d48a;padding:.6rem;margin:.6rem 0}
.error{background:#fde8e8;border:1px solid #e5a5a5;padding:.6rem;margin:.6rem 0}
.secret{font-family:monospace;font-size:1rem;background:#fff;border:1px dashed #1f3a5f;padding:.6rem;overflow-wrap:anywhere}
.muted{color:#5f6b76;font-size:.85rem}
.mono{font-family:ui-monospace,monospace;font-size:.82rem;overflow-wrap:anywhere}
.pager{display:flex;gap:1rem;margin:.6rem 0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,480px),1fr));gap:1rem}.charts figure{margin:0;background:#fff;border:1px solid #e3e6ea;min-width:0}
.charts svg{width:100%;height:auto}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;background:#fff;padding:.6rem;border:1px solid #e3e6ea}
dl.facts dt{font-weight:600}dl.facts dd{margin:0;overflow-wrap:anywhere}
@media (max-width:640px){header .who{margin-left:0}main{padding:.5rem}th,td{padding:.3rem}.hide-narrow{display:none}
table.cards thead{display:none}table.cards tr{display:block;border-bottom:2px solid #d7dce1;padding:.3rem 0}table.cards td{display:block;border:0;padding:.1rem .4rem}
table.cards td[data-label]::before{content:attr(data-label) ": ";font-weight:600}}
"#;

/// A whole page.
pub(crate) fn page(title: &str, viewer: Option<&Viewer>, nav: Nav, body: Markup) -> Markup {
    let base = crate::MOUNT;
    let link = |target: Nav, path: &str, label: &str| {
        html! {
            a href=(format!("{base}/{path}")) class=[(nav == target).then_some("current")] { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · modelgate" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(format!("{base}/style.css"));
                // htmx swaps search results in place; without it every form
                // still works as a plain form. No inline styles (CSP), no eval.
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false}"#;
                script src=(format!("{base}/htmx.min.js")) defer {}
            }
            body {
                header {
                    span.brand { "modelgate" }
                    @if let Some(viewer) = viewer {
                        nav.links {
                            (link(Nav::Catalogue, "catalogue", "Catalogue"))
                            (link(Nav::Queue, "queue", "Reviews"))
                            (link(Nav::Audit, "audit", "Audit"))
                            (link(Nav::Usage, "usage", "Usage"))
                            (link(Nav::Keys, "keys", "Keys"))
                        }
                        div.who {
                            span { (viewer.name) " · " (viewer.role.name()) }
                            form method="post" action=(format!("{base}/logout")) {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button.plain type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A stage as a coloured badge.
pub(crate) fn stage_badge(stage: Stage) -> Markup {
    html! { span class=(format!("badge stage-{}", stage.name())) { (stage.name()) } }
}

/// Bytes for people.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    match UNITS.get(unit) {
        Some(&"B") | None => format!("{n} B"),
        Some(name) => format!("{value:.1} {name}"),
    }
}

/// A parameter count for people (135M, 7.2B).
pub(crate) fn params(n: Option<u64>) -> String {
    match n {
        None => "—".to_string(),
        Some(n) if n >= 1_000_000_000 => format!("{:.1}B", n as f64 / 1e9),
        Some(n) if n >= 1_000_000 => format!("{:.0}M", n as f64 / 1e6),
        Some(n) => n.to_string(),
    }
}

/// The hidden CSRF field of a form.
pub(crate) fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// A value or a dash.
pub(crate) fn or_dash(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("—")
}

/// Percent-encode a query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The link to a version's page.
pub(crate) fn version_link(name: &str, version: &str) -> String {
    format!(
        "{}/version?ref={}",
        crate::MOUNT,
        encode(&format!("{name}@{version}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(98_362_432), "93.8 MiB");
        assert_eq!(params(Some(134_515_008)), "135M");
        assert_eq!(params(Some(7_241_732_096)), "7.2B");
        assert_eq!(encode("a b@1/<x>"), "a%20b%401%2F%3Cx%3E");
    }
}
