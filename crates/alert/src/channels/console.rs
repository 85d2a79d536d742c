//! The console channel: each notification printed on the server's standard output, as the
//! demo shows them.

use std::io::Write;

use crate::channels::text::Rendered;
use crate::channels::DeliveryError;

pub fn deliver(rendered: &Rendered) -> Result<(), DeliveryError> {
    let mut out = std::io::stdout().lock();
    // A closed stdout must not fail the notification forever: it is delivered as far as
    // anyone can read it.
    let _ = writeln!(out, "\n=== notification: {}\n{}\n", rendered.title, rendered.text);
    let _ = out.flush();
    Ok(())
}
