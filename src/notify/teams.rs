//! A notification as a Microsoft Teams Workflows webhook's message: one attachment holding an
//! Adaptive Card (schema 1.4: a title, the summary, the users as facts folded past twenty, the
//! next command, the time).

use serde_json::{Value, json};

use super::Notification;
use super::notification::shorten;

pub(crate) fn message(notification: &Notification) -> Value {
    let mut body = vec![
        json!({
            "type": "TextBlock",
            "text": notification.title(),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": true,
            "color": if notification.kind.is_alarm() { "Attention" } else { "Default" },
            "style": "heading"
        }),
        json!({ "type": "TextBlock", "text": notification.summary, "wrap": true }),
    ];
    if !notification.users.is_empty() {
        let (shown, more) = notification.folded_users();
        body.push(json!({
            "type": "TextBlock",
            "text": format!("Users ({})", notification.users.len()),
            "weight": "Bolder",
            "wrap": true
        }));
        let facts: Vec<Value> = shown
            .iter()
            .map(|u| {
                json!({
                    "title": u.email,
                    "value": u.error.as_deref().map_or_else(|| "—".to_owned(), |e| shorten(e, 200))
                })
            })
            .collect();
        body.push(json!({ "type": "FactSet", "facts": facts }));
        if more > 0 {
            body.push(
                json!({ "type": "TextBlock", "text": format!("… and {more} more"), "wrap": true }),
            );
        }
    }
    if let Some(command) = &notification.next_command {
        body.push(json!({
            "type": "TextBlock",
            "text": command,
            "fontType": "Monospace",
            "wrap": true
        }));
    }
    body.push(json!({
        "type": "TextBlock",
        "text": notification.at_text,
        "isSubtle": true,
        "size": "Small",
        "wrap": true
    }));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body
            }
        }]
    })
}
