//! End-to-end tests of the `canopy` binary: exit codes, stdout and stderr.

#[macro_use]
mod util;

mod browser;
mod check;
mod connections;
mod data;
mod dbt;
mod definitions;
mod hardening;
mod history;
mod impact;
mod init;
mod large;
mod owners;
mod render;
mod replay;
mod report;
mod slices;
mod slices_moved;
mod smtp;
mod snooze;
mod story;
mod warehouse;
mod webhook;
