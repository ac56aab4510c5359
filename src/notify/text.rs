//! A notification as plain text: the email's subject and body, and the fallback line chat
//! services show in a notification banner. Folds the user list past twenty.

use super::Notification;
use super::notification::shorten;

/// The email subject: the title alone.
pub(crate) fn subject(notification: &Notification) -> String {
    notification.title()
}

/// The email body: what happened, who, what to do, when.
pub(crate) fn body(notification: &Notification) -> String {
    let mut text = format!("{}\n\n{}\n", notification.title(), notification.summary);
    if !notification.users.is_empty() {
        let (shown, more) = notification.folded_users();
        text.push_str(&format!("\nUsers ({}):\n", notification.users.len()));
        for user in shown {
            match &user.error {
                Some(error) => {
                    text.push_str(&format!("  {}: {}\n", user.email, shorten(error, 300)));
                }
                None => text.push_str(&format!("  {}\n", user.email)),
            }
        }
        if more > 0 {
            text.push_str(&format!("  … and {more} more\n"));
        }
    }
    if let Some(command) = &notification.next_command {
        text.push_str(&format!("\nNext: {command}\n"));
    }
    text.push_str(&format!("\nAt: {}\n", notification.at_text));
    if let Some(head) = &notification.chain_head {
        text.push_str(&format!("Audit chain head: {head}\n"));
    }
    text
}

/// One line for a chat banner.
pub(crate) fn fallback(notification: &Notification) -> String {
    format!("{}: {}", notification.title(), notification.summary)
}
