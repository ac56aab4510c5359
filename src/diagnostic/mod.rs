//! Diagnostics: what cutover says about a file it was given, and where.
//!
//! A [`Diagnostic`] always points into a [`SourceFile`] (a plan or a CSV file it names), so every
//! rendering can name the place as `PATH:LINE:COLUMN`. This module owns the type and its two
//! renderings (miette's graphical report for people, JSON for editors and CI); it does not decide
//! what is wrong with a plan — `crate::plan` does.

mod diagnostic;
mod render;
mod source_file;

pub(crate) use diagnostic::{Diagnostic, MAX_FINDINGS, Severity, keep};
pub(crate) use render::{DiagnosticJson, render_text_report};
pub(crate) use source_file::{SourceFile, through_bad_line};
