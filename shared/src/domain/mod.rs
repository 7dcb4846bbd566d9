//! The domain: pure rules, no I/O. Each takes state, input and "today"/"now" and returns a
//! decision; one unit test reaches each.

pub mod account;
pub mod application;
pub mod enrolment;
pub mod mail_address;
pub mod notices;
pub mod password;
pub mod second_factor;
pub mod secret;
pub mod time;
pub mod typed;

#[cfg(test)]
mod properties;
