//! Telling every replica at once that something changed, over Redis
//! pub/sub: the inventory (a key revoked, a version revoked or promoted, a
//! grant changed: [`Notice::Inventory`]) or the serve configuration (reloaded
//! on one replica: [`Notice::Config`]).
//!
//! A notice only wakes the replicas early; what changed is always read from
//! the inventory or the config file, and each replica still polls, so a
//! lost notice (Redis down, a subscriber reconnecting) delays a change by at
//! most one poll and never loses it.

use std::time::Duration;

use futures_util::StreamExt;

/// The channel, under the counters' prefix.
pub fn channel(prefix: &str) -> String {
    format!("{prefix}changes")
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The inventory: keys, grants, stages.
    Inventory,
    /// The serve configuration file.
    Config,
}

impl Notice {
    fn as_str(self) -> &'static str {
        match self {
            Notice::Inventory => "inventory",
            Notice::Config => "config",
        }
    }

    fn parse(text: &str) -> Option<Notice> {
        match text {
            "inventory" => Some(Notice::Inventory),
            "config" => Some(Notice::Config),
            _ => None,
        }
    }
}

/// How long a publisher waits for Redis.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Publishes and hears notices on one Redis channel.
#[derive(Clone)]
pub struct Notifier {
    client: redis::Client,
    channel: String,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// Notices on `{prefix}changes` of the Redis `client` talks to
    /// ([`crate::shared::client`] makes it from a URL; connects on use).
    pub fn new(client: redis::Client, prefix: &str) -> Notifier {
        Notifier {
            client,
            channel: channel(prefix),
        }
    }

    /// Publishes `notice`, waiting at most [`PUBLISH_TIMEOUT`] (for the CLI
    /// and other short-lived writers; no runtime needed). Returns how many
    /// replicas heard it.
    pub fn publish_blocking(&self, notice: Notice) -> Result<u64, String> {
        let call = || -> redis::RedisResult<u64> {
            let mut connection = self.client.get_connection_with_timeout(PUBLISH_TIMEOUT)?;
            connection.set_read_timeout(Some(PUBLISH_TIMEOUT))?;
            connection.set_write_timeout(Some(PUBLISH_TIMEOUT))?;
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(notice.as_str())
                .query(&mut connection)
        };
        call().map_err(|e| e.to_string())
    }

    /// Publishes `notice` from a task on the current runtime, logging a
    /// failure (polling still carries the change).
    pub fn publish_in_background(&self, notice: Notice) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let notifier = self.clone();
        runtime.spawn(async move {
            let call = async {
                let mut connection = notifier.client.get_multiplexed_async_connection().await?;
                redis::cmd("PUBLISH")
                    .arg(&notifier.channel)
                    .arg(notice.as_str())
                    .query_async::<u64>(&mut connection)
                    .await
            };
            let outcome = tokio::time::timeout(PUBLISH_TIMEOUT, call).await;
            if !matches!(outcome, Ok(Ok(_))) {
                tracing::warn!(
                    channel = %notifier.channel,
                    "could not tell the other replicas about a change on redis; they see it at their next poll"
                );
            }
        });
    }

    /// Listens for as long as the runtime runs, calling `heard` with each
    /// notice (and once on every (re)subscription, since something may
    /// have changed while nobody listened); reconnects after `retry`
    /// whenever the connection drops, logging once per outage.
    pub async fn listen(self, retry: Duration, heard: impl Fn(Notice) + Send + 'static) {
        let channel = self.channel;
        let mut down = false;
        loop {
            match self.client.get_async_pubsub().await {
                Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                    Ok(()) => {
                        if down {
                            tracing::warn!(%channel, "listening for changes on redis again");
                            down = false;
                        }
                        heard(Notice::Inventory);
                        let mut messages = pubsub.on_message();
                        while let Some(message) = messages.next().await {
                            let text: String = message.get_payload().unwrap_or_default();
                            if let Some(notice) = Notice::parse(&text) {
                                heard(notice);
                            }
                        }
                    }
                    Err(error) => {
                        if !down {
                            tracing::error!(%error, %channel, "cannot subscribe to changes on redis; relying on polling");
                        }
                        down = true;
                    }
                },
                Err(error) => {
                    if !down {
                        tracing::error!(%error, %channel, "cannot listen for changes on redis; relying on polling until it answers");
                    }
                    down = true;
                }
            }
            if !down {
                tracing::error!(%channel, "the redis connection for changes dropped; relying on polling until it answers");
                down = true;
            }
            tokio::time::sleep(retry).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_strangers_are_ignored() {
        for notice in [Notice::Inventory, Notice::Config] {
            assert_eq!(Notice::parse(notice.as_str()), Some(notice));
        }
        assert_eq!(Notice::parse("flushall"), None);
        assert_eq!(channel("modelgate:"), "modelgate:changes");
    }
}
