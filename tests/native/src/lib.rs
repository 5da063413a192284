//! Shared harness for the native end-to-end tests.
