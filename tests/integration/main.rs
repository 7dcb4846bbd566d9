//! Integration tests: the real aws-sdk-dynamodb client against the embedded engine on loopback
//! (fresh tables per test), the real gateway routing, real RS256 JWTs. One binary, one module
//! per feature area; each test names the rule it holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod harness;

mod admin;
mod applications;
mod authz;
mod cloud_mail;
mod cold_start;
mod contract;
mod costs;
mod credentials;
mod events;
mod faults;
mod identity;
mod input;
mod lifecycle;
mod login;
mod menus;
mod notices;
mod ops;
mod people;
mod remote_access;
mod schedules;
mod second_factor;
mod secrets;
mod security;
mod services;
mod template;
mod workshop;
