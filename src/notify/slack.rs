//! A notification as a Slack incoming webhook's message: a `text` fallback and Block Kit
//! blocks (a header, the summary, the users folded past twenty, the next command, the time).

use serde_json::{Value, json};

use super::Notification;
use super::notification::shorten;
use super::text;

/// Slack's limit on one section's text.
const SECTION_LIMIT: usize = 2900;

pub(crate) fn message(notification: &Notification) -> Value {
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": { "type": "plain_text", "text": shorten(&notification.title(), 150), "emoji": false }
        }),
        json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": shorten(&escape(&notification.summary), SECTION_LIMIT) }
        }),
    ];
    if !notification.users.is_empty() {
        let (shown, more) = notification.folded_users();
        let mut list = format!("*Users ({})*\n", notification.users.len());
        for user in shown {
            match &user.error {
                Some(error) => list.push_str(&format!(
                    "• {}: {}\n",
                    escape(&user.email),
                    escape(&shorten(error, 120))
                )),
                None => list.push_str(&format!("• {}\n", escape(&user.email))),
            }
        }
        if more > 0 {
            list.push_str(&format!("… and {more} more\n"));
        }
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": shorten(&list, SECTION_LIMIT) }
        }));
    }
    if let Some(command) = &notification.next_command {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!("*Next:* `{}`", escape(command)) }
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{ "type": "mrkdwn", "text": format!("{} · plan {}", notification.at_text, escape(&notification.plan)) }]
    }));
    json!({ "text": text::fallback(notification), "blocks": blocks })
}

/// Slack's mrkdwn wants `&`, `<` and `>` escaped, or it reads them as links and mentions.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
