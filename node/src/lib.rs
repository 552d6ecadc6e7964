//! # jialing-node
//!
//! The Jialing node: durable storage ([`store`]), the mempool ([`mempool`]), the ledger
//! application that proposes, validates and commits blocks ([`app`]), block production
//! (Malachite BFT consensus in [`consensus`], or [`solo`] for a one-validator
//! network), the HTTP API ([`api`], every read going through [`access`]), metrics ([`metrics`]) and configuration
//! ([`config`]). [`runner`] wires them together for `jialing-node run`; [`export`]
//! writes a stopped node's chain to a file for offline audit.
//!
//! The pure parts (types, execution) live in `jialing-core` and `jialing-contracts`;
//! everything here is IO around them.

pub mod access;
pub mod api;
pub mod app;
pub mod assets;
pub mod audit_log;
pub mod checkpoint;
pub mod cli;
pub mod config;
pub mod consensus;
pub mod consumer;
pub mod consumer_inputs;
pub mod data_views;
pub mod demo;
pub mod demo_credit;
pub mod demo_registers;
pub mod devnet;
pub mod digital_link;
pub mod epcis_capture;
pub mod epcis_rest;
pub mod export;
pub mod genesis_glue;
pub mod ingest;
pub mod lot_proof;
pub mod mempool;
pub mod metrics;
pub mod openapi;
pub mod preverify;
pub mod proofs;
pub mod public_lists;
pub mod runner;
pub mod serve;
pub mod solo;
pub mod store;
pub mod verify_alongside;
pub mod views;
