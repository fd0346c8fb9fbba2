//! Provider configuration: TOML in, checked provider out, no secret shown.

use modelgate_upstream::{ConfigError, Provider, ProviderConfig, ProviderKind};

fn parse(text: &str) -> Result<ProviderConfig, toml::de::Error> {
    toml::from_str(text)
}

fn env_with_key(name: &str) -> Option<String> {
    (name == "ANTHROPIC_API_KEY").then(|| "sk-ant-api03-very-secret".to_owned())
}

#[test]
fn toml_with_defaults_and_all_fields() {
    let config = parse(
        r#"
        name = "claude"
        kind = "anthropic"
        base_url = "https://api.anthropic.com"
        api_key_env = "ANTHROPIC_API_KEY"
        "#,
    )
    .expect("minimal config");
    assert_eq!(config.kind, ProviderKind::Anthropic);
    assert_eq!(config.timeout_ms, 30_000);
    assert_eq!(config.anthropic_version, "2023-06-01");
    assert_eq!(config.default_max_tokens, 4096);
    assert!(config.headers.is_empty());

    let config = parse(
        r#"
        name = "vllm"
        kind = "openai"
        base_url = "http://127.0.0.1:8000/v1"
        timeout_ms = 5000
        headers = { "x-team" = "search" }
        "#,
    )
    .expect("full config");
    assert_eq!(config.kind, ProviderKind::Openai);
    assert_eq!(config.timeout_ms, 5000);
    assert_eq!(
        config.headers.get("x-team").map(String::as_str),
        Some("search")
    );
    assert!(Provider::new(config, |_| None).is_ok());
}

#[test]
fn unknown_fields_and_kinds_are_refused() {
    let error =
        parse("name = \"a\"\nkind = \"openai\"\nbase_url = \"http://x\"\napi_key = \"sk-oops\"\n")
            .expect_err("api_key is not a field");
    assert!(error.to_string().contains("api_key"), "{error}");
    assert!(parse("name = \"a\"\nkind = \"gemini\"\nbase_url = \"http://x\"\n").is_err());
}

#[test]
fn unset_variable_names_variable_and_provider() {
    let mut config = ProviderConfig::new(
        "claude",
        ProviderKind::Anthropic,
        "https://api.anthropic.com",
    );
    config.api_key_env = Some("CLAUDE_KEY".into());
    let error = Provider::new(config.clone(), |_| None).expect_err("unset");
    assert!(
        matches!(&error, ConfigError::MissingEnv { provider, variable } if provider == "claude" && variable == "CLAUDE_KEY")
    );
    let text = error.to_string();
    assert!(
        text.contains("CLAUDE_KEY") && text.contains("claude"),
        "{text}"
    );
    // Empty counts as unset.
    assert!(matches!(
        Provider::new(config, |_| Some(String::new())),
        Err(ConfigError::MissingEnv { .. })
    ));
}

#[test]
fn bad_urls_name_the_field() {
    for url in [
        "not a url",
        "ftp://example.com/v1",
        "https://user:pw@example.com",
        "https://x/v1?key=sk",
    ] {
        let config = ProviderConfig::new("p", ProviderKind::Openai, url);
        let error = Provider::new(config, |_| None).expect_err(url);
        assert!(
            matches!(
                &error,
                ConfigError::InvalidUrl {
                    field: "base_url",
                    ..
                }
            ),
            "{url}: {error:?}"
        );
        assert!(error.to_string().contains("base_url"), "{error}");
        assert!(!error.to_string().contains("pw@"), "{error}");
    }
}

#[test]
fn other_fields_are_checked() {
    let base = ProviderConfig::new("p", ProviderKind::Openai, "http://127.0.0.1:1/v1");
    let mut config = base.clone();
    config
        .headers
        .insert("Authorization".into(), "Bearer sk-in-the-file".into());
    let error = Provider::new(config, |_| None).expect_err("credential header");
    assert!(
        matches!(&error, ConfigError::InvalidField { field, .. } if field == "headers.Authorization")
    );
    assert!(!error.to_string().contains("sk-in-the-file"));

    let mut config = base.clone();
    config.headers.insert("bad header".into(), "v".into());
    assert!(matches!(
        Provider::new(config, |_| None),
        Err(ConfigError::InvalidField { .. })
    ));

    let mut config = base.clone();
    config.timeout_ms = 0;
    assert!(
        matches!(Provider::new(config, |_| None), Err(ConfigError::InvalidField { field, .. }) if field == "timeout_ms")
    );

    let mut config = ProviderConfig::new("", ProviderKind::Openai, "http://x/v1");
    config.api_key_env = None;
    assert!(matches!(
        Provider::new(config, |_| None),
        Err(ConfigError::EmptyName)
    ));

    let mut config = base;
    config.api_key_env = Some("K".into());
    let error =
        Provider::new(config, |_| Some("sk-line\nbreak".into())).expect_err("newline in key");
    assert!(matches!(&error, ConfigError::InvalidKey { variable, .. } if variable == "K"));
    assert!(!error.to_string().contains("sk-line"));
}

#[test]
fn debug_hides_the_key() {
    let mut config = ProviderConfig::new(
        "claude",
        ProviderKind::Anthropic,
        "https://api.anthropic.com",
    );
    config.api_key_env = Some("ANTHROPIC_API_KEY".into());
    let provider = Provider::new(config, env_with_key).expect("provider");
    let debug = format!("{provider:?}");
    assert!(!debug.contains("very-secret"), "{debug}");
    assert!(
        debug.contains("redacted") && debug.contains("claude"),
        "{debug}"
    );
    assert_eq!(provider.name(), "claude");
    assert_eq!(provider.kind(), ProviderKind::Anthropic);
}
