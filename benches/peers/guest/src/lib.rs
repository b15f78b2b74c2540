//! The peer benchmark's audit handler as a WASP guest (`benches/peers`): the
//! same logic as every other engine there. Parse the event JSON (typed,
//! borrowing from the event's text), set `actor.session` to `"***"`, read
//! `actor.user` and `action` back, and emit
//! `"<id> <topic> <ts> user=<u> action=<a> session=<s>"` to the output `out`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Deserialize;
use wasp_guest::{Config, Event, Handler, emit, export_handler};

/// The fields the logic reads, borrowed from the event's text.
#[derive(Deserialize)]
struct Audit<'a> {
    #[serde(rename = "_id", borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    topic: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    actor: Actor<'a>,
}

#[derive(Deserialize)]
struct Actor<'a> {
    #[serde(borrow)]
    user: Cow<'a, str>,
    #[serde(borrow)]
    session: Cow<'a, str>,
}

struct Peer {
    /// The line being written (kept to reuse its allocation).
    line: String,
}

impl Handler for Peer {
    fn init(_config: Config) -> Result<Self, String> {
        Ok(Peer { line: String::with_capacity(256) })
    }

    fn handle(&mut self, event: &Event) -> Result<(), String> {
        let mut audit: Audit<'_> = event.parse_borrowed()?;
        audit.actor.session = Cow::Borrowed("***");
        let (user, action) = (&audit.actor.user, &audit.action);
        self.line.clear();
        write!(self.line, "{} {} {} user={user} action={action} session={}", audit.id, audit.topic, audit.timestamp, audit.actor.session)
            .map_err(|e| e.to_string())?;
        emit("out", &self.line)
    }
}

export_handler!(Peer);
